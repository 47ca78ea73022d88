-- When start-up finished resealing the values written before environments (binding 1) under
-- their environment (binding 2); NULL until then. Once set, no server opens a binding-1 value
-- again: a ciphertext of that kind put back into a row (from an old backup, say) never opens.
ALTER TABLE instance ADD COLUMN values_resealed_at INTEGER;
