-- Profile changes of each user (CBOR list of {on, by, profile}), for the certificate rules
-- that need a user's profile at a given time.

ALTER TABLE users ADD COLUMN profile_history BLOB;
