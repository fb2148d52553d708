-- Shared recovery: each setup's encrypted recovery device and reveal token, and each
-- recipient's share certificate. The setup and deletion certificates are in the
-- certificates table, topic 'recovery/<user ID hex>'.

CREATE TABLE recovery_setups (
    org           TEXT NOT NULL REFERENCES organizations(id),
    user_id       BLOB NOT NULL,
    timestamp     INTEGER NOT NULL,
    ciphered_data BLOB NOT NULL,
    reveal_token  BLOB NOT NULL,
    deleted_on    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, user_id, timestamp)
) STRICT;

CREATE TABLE recovery_shares (
    org         TEXT NOT NULL,
    user_id     BLOB NOT NULL,
    timestamp   INTEGER NOT NULL,
    recipient   BLOB NOT NULL,
    certificate BLOB NOT NULL,
    PRIMARY KEY (org, user_id, timestamp, recipient),
    FOREIGN KEY (org, user_id, timestamp) REFERENCES recovery_setups (org, user_id, timestamp)
) STRICT;

CREATE INDEX recovery_shares_by_recipient ON recovery_shares (org, recipient);

-- Pending invitations by claimer user and type (device and shared-recovery invitations).
CREATE INDEX invitations_by_claimer_user ON invitations (org, claimer_user_id, type, deleted_on);
