-- A host app's own migration, with the same version number as sessionward's
-- first one on purpose: the two histories must not collide.
CREATE TABLE app_users (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL);
