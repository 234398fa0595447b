-- Anti-replay nonces shared by every server on the database (package nonce/pgnonce):
-- a nonce is redeemed by deleting its row, so only one request can have it.

CREATE TABLE nonces (
	id      bigserial PRIMARY KEY, -- issue order, to forget the oldest beyond a bound
	value   text NOT NULL UNIQUE,
	expires timestamptz NOT NULL
);
CREATE INDEX nonces_expires ON nonces (expires);
