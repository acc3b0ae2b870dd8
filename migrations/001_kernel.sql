-- The kernel's own tables. Applied by the same migrator as every module (as module "_kernel").

-- One row per applied migration file; the checksum lets the kernel refuse an edited file.
CREATE TABLE hub_migrations (
  module      text        NOT NULL,
  version     integer     NOT NULL,
  name        text        NOT NULL,
  checksum    text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms integer     NOT NULL,
  PRIMARY KEY (module, version)
);

-- The on/off switch per module, so several kernels sharing one database can agree on it.
CREATE TABLE hub_module_state (
  module     text        PRIMARY KEY,
  enabled    boolean     NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
