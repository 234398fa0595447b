-- The ACME server's records: one table per record type. The columns are what is looked
-- up, compared or indexed; the record itself is the data column, the JSON of the Go
-- struct of package store (its Version is the version column, which wins).

CREATE TABLE accounts (
	id             text PRIMARY KEY,
	version        bigint NOT NULL,
	key_thumbprint text NOT NULL UNIQUE,
	data           jsonb NOT NULL
);

CREATE TABLE orders (
	id         text PRIMARY KEY,
	version    bigint NOT NULL,
	account_id text NOT NULL,
	seq        bigserial NOT NULL, -- creation order, for an account's order list
	data       jsonb NOT NULL
);
CREATE INDEX orders_account ON orders (account_id, seq);

CREATE TABLE authorizations (
	id      text PRIMARY KEY,
	version bigint NOT NULL,
	data    jsonb NOT NULL
);

CREATE TABLE certificates (
	serial  text PRIMARY KEY,
	version bigint NOT NULL,
	revoked boolean NOT NULL,
	data    jsonb NOT NULL
);
CREATE INDEX certificates_revoked ON certificates (serial) WHERE revoked;
