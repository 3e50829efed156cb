CREATE TABLE items (id serial PRIMARY KEY, body text NOT NULL, created timestamptz NOT NULL DEFAULT now())
