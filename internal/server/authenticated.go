package server

import (
	"context"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// certificateGet returns the certificates the caller may see, newer than what it has.
// External users get the redacted flavour of user and device certificates: they never
// learn other users' names, emails or device labels. Realms appear only where the caller
// has new certificates to receive.
func (s *Server) certificateGet(ctx context.Context, c *caller, req *protocol.CertificateGetReq) (any, error) {
	redacted := c.user.Profile == parsec.ProfileOutsider
	rep := protocol.CertificateGetRep{Realms: map[parsec.VlobID][][]byte{}}
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		certs, err := tx.Certificates(c.org.ID, metastore.CommonTopic, req.CommonAfter)
		if err != nil {
			return err
		}
		rep.Common = make([][]byte, 0, len(certs))
		for _, cert := range certs {
			if redacted && cert.Redacted != nil {
				rep.Common = append(rep.Common, cert.Redacted)
			} else {
				rep.Common = append(rep.Common, cert.Data)
			}
		}
		// A member receives the topics of the realms where it has a role and, of those it
		// was removed from, the certificates up to its removal: it may read what it was
		// shared until then, and learns why it cannot any more.
		last, err := tx.UserRealmRoles(c.org.ID, c.user.ID)
		if err != nil {
			return err
		}
		for realm, role := range last {
			certs, err := tx.Certificates(c.org.ID, metastore.RealmTopic(realm), req.RealmAfter[realm])
			if err != nil {
				return err
			}
			var out [][]byte
			for _, cert := range certs {
				if role.Role == parsec.RoleNone && cert.Timestamp > role.On {
					break
				}
				out = append(out, cert.Data)
			}
			if len(out) > 0 {
				rep.Realms[realm] = out
			}
		}
		return s.recoveryCertificates(tx, c, req, &rep)
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func (s *Server) organizationConfig(ctx context.Context, c *caller, req *protocol.OrganizationConfigReq) (any, error) {
	return s.configOf(c.org), nil
}

func (s *Server) configOf(org metastore.Organization) protocol.OrganizationConfig {
	return protocol.OrganizationConfig{
		UserProfileOutsiderAllowed: org.Config.UserProfileOutsiderAllowed,
		ActiveUsersLimit:           org.Config.ActiveUsersLimit,
		SSEKeepaliveSeconds:        int64(s.cfg.SSEKeepalive.Seconds()),
		MinimumArchivingPeriod:     org.Config.MinimumArchivingPeriod,
		BlockSize:                  s.cfg.BlockSize,
	}
}
