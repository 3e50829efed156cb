CREATE TABLE jobs_done (id serial PRIMARY KEY, payload text NOT NULL)
