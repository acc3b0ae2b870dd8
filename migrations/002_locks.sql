-- Coordination locks between kernels. A kernel holds a row of this table with SELECT … FOR
-- UPDATE on a connection of its own for as long as it migrates a module ("migrate:<module>")
-- or sets up roles ("roles"). Module roles have no privilege on it, so unlike an advisory
-- lock key, no module can take, hold or fake one of these locks.
CREATE TABLE hub_locks (
  name        text        PRIMARY KEY,
  kernel      text,
  acquired_at timestamptz
);

-- The kernel's tables are the kernel's alone; nothing here is granted to module roles.
REVOKE ALL ON hub_locks, hub_migrations, hub_module_state FROM PUBLIC;

-- migrate:down
DROP TABLE hub_locks;
