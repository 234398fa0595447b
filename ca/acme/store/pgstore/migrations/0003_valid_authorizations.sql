-- An account's authorizations by identifier, for Store.ValidAuthorizations: new orders
-- reuse the valid ones, and they let the account revoke certificates for those names.
CREATE INDEX authorizations_account_identifier ON authorizations (
	(data->>'AccountID'), (data->'Identifier'->>'type'), (data->'Identifier'->>'value')
);
