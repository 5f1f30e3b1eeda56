-- The network an execution's services were put on, when it is not the one
-- derived from the execution's id: a bridge claimed from the pool of ready
-- networks has a name of its own. Empty for executions recorded before,
-- and for those on a derived or shared network.
ALTER TABLE executions ADD COLUMN network TEXT NOT NULL DEFAULT '';
