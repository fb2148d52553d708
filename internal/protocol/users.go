package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// User management commands (Administrators).
const (
	CmdUserUpdate      = "user_update"
	CmdUserRevoke      = "user_revoke"
	CmdListFrozenUsers = "list_frozen_users"
)

// UserUpdateReq changes a user's profile with a user update certificate.
type UserUpdateReq struct {
	UserUpdateCertificate []byte `cbor:"user_update_certificate"`
}

// UserRevokeReq revokes a user with a revoked user certificate.
type UserRevokeReq struct {
	RevokedUserCertificate []byte `cbor:"revoked_user_certificate"`
}

type ListFrozenUsersReq struct{}

type ListFrozenUsersRep struct {
	FrozenUsers []parsec.UserID `cbor:"frozen_users"`
}
