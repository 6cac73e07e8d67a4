-- Free bytes of the filesystem holding a repository, measured on its host after every backup;
-- with no capacity set, usage + free space is the capacity the forecast uses.
ALTER TABLE repositories ADD COLUMN free_space INTEGER;
