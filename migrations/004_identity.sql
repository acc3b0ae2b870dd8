-- Who may do what (DESIGN.md "Identity and permissions", issue 15). Users, their grants,
-- browser sessions, personal API tokens and the audit trail, shared by every kernel on this
-- database. Secrets are never stored: passwords as argon2id hashes, session ids and API
-- tokens as SHA-256 digests (they are 256-bit random values, so a fast hash is enough).

CREATE TABLE hub_users (
  id            bigserial   PRIMARY KEY,
  username      text        NOT NULL UNIQUE,
  -- argon2id PHC string; null for users who sign in only through OpenID Connect
  password_hash text,
  -- "<issuer> <sub>" for users created by an OpenID Connect sign-in
  oidc_subject  text        UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- `<module>.<role>`, `<module>.<perm>` or `hub.admin`. Kept apart from anything an identity
-- provider sends, so a sign-in never changes them.
CREATE TABLE hub_grants (
  user_id    bigint      NOT NULL REFERENCES hub_users (id) ON DELETE CASCADE,
  grant_name text        NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  granted_by text        NOT NULL,
  PRIMARY KEY (user_id, grant_name)
);

CREATE TABLE hub_sessions (
  id_hash    text        PRIMARY KEY,
  user_id    bigint      NOT NULL REFERENCES hub_users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX hub_sessions_user ON hub_sessions (user_id);

-- The dashboard's browser sessions (admin origin), made by presenting the admin token at its
-- /login; shared by every kernel, so a load balancer may send the browser to any of them, and
-- a sign-out ends the session everywhere.
CREATE TABLE hub_admin_sessions (
  id_hash    text        PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);

-- OpenID Connect sign-ins in progress (HUB_AUTH=oidc): the PKCE verifier and nonce for a
-- state, kept here so the issuer's redirect may come back to any kernel. Used once, 10 min.
CREATE TABLE hub_oidc_flows (
  state_hash text        PRIMARY KEY,
  verifier   text        NOT NULL,
  nonce      text        NOT NULL,
  next       text        NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE TABLE hub_api_tokens (
  id           bigserial   PRIMARY KEY,
  user_id      bigint      NOT NULL REFERENCES hub_users (id) ON DELETE CASCADE,
  name         text        NOT NULL,
  token_hash   text        NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX hub_api_tokens_user ON hub_api_tokens (user_id);

-- Every admin action and every refused request: who, what, when, result.
CREATE TABLE hub_audit (
  id     bigserial   PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  actor  text        NOT NULL,
  action text        NOT NULL,
  target text        NOT NULL DEFAULT '',
  result text        NOT NULL,
  detail jsonb
);
CREATE INDEX hub_audit_at ON hub_audit (at DESC);

-- Bumped in the same transaction as every change that can take access away (revoke, sign-out,
-- password, token). Kernels cache identities; a NOTIFY on hub_identity is only a hint to
-- re-read this number, which module roles cannot write, and drop their caches when it moved.
CREATE TABLE hub_identity_generation (
  one        boolean PRIMARY KEY DEFAULT true CHECK (one),
  generation bigint  NOT NULL
);
INSERT INTO hub_identity_generation (one, generation) VALUES (true, 0);

REVOKE ALL ON hub_users, hub_grants, hub_sessions, hub_admin_sessions, hub_oidc_flows, hub_api_tokens, hub_audit, hub_identity_generation FROM PUBLIC;

-- migrate:down
DROP TABLE hub_identity_generation;
DROP TABLE hub_audit;
DROP TABLE hub_api_tokens;
DROP TABLE hub_sessions;
DROP TABLE hub_admin_sessions;
DROP TABLE hub_oidc_flows;
DROP TABLE hub_grants;
DROP TABLE hub_users;
