-- External account binding keys (RFC 8555 §7.3.4), shared by every server on the
-- database: the operator creates and revokes them with 'devca acme eab'. A key binds one
-- account, in the transaction that creates it (account_id is set once, from NULL).

CREATE TABLE eab_keys (
	kid        text PRIMARY KEY,
	hmac_key   bytea NOT NULL,
	note       text NOT NULL,
	created_at timestamptz NOT NULL,
	account_id text UNIQUE,
	bound_at   timestamptz,
	revoked_at timestamptz
);
