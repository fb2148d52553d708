-- Shared recovery: each setup's encrypted recovery device and reveal token, and each
-- recipient's share certificate. The setup and deletion certificates are in the
-- certificates table, topic 'recovery/<user ID hex>'.

CREATE TABLE recovery_setups (
    org           TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    user_id       BYTEA NOT NULL,
    timestamp     BIGINT NOT NULL,
    ciphered_data BYTEA NOT NULL,
    reveal_token  BYTEA NOT NULL,
    deleted_on    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org, user_id, timestamp)
);

CREATE TABLE recovery_shares (
    org         TEXT COLLATE "C" NOT NULL,
    user_id     BYTEA NOT NULL,
    timestamp   BIGINT NOT NULL,
    recipient   BYTEA NOT NULL,
    certificate BYTEA NOT NULL,
    PRIMARY KEY (org, user_id, timestamp, recipient),
    FOREIGN KEY (org, user_id, timestamp) REFERENCES recovery_setups (org, user_id, timestamp)
);

CREATE INDEX recovery_shares_by_recipient ON recovery_shares (org, recipient);

-- Pending invitations by claimer user and type (device and shared-recovery invitations).
CREATE INDEX invitations_by_claimer_user ON invitations (org, claimer_user_id, type, deleted_on);
