-- Secret values of a policy's extra_vars (database passwords) sealed with the master key: the
-- extra_vars column keeps the masked text ("$encrypted$"), this column the sealed JSON object of
-- the secrets. Clear values written by older versions are sealed by the store when it opens
-- (sealing needs the master key, which SQL has not).
ALTER TABLE policies ADD COLUMN extra_vars_sealed BLOB;
