package server

import (
	"net/http"
	"strconv"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// errMetadataUnavailable is the reply to a request that failed because the metadata store
// could not be reached: the status of a failure of the block store, so that the client says
// in one line that the server's store is unavailable and may be tried again later.
var errMetadataUnavailable = protocol.Errorf(protocol.StatusStoreUnavailable,
	"the server cannot reach its metadata store now: try again later")

// rpcFailed answers an RPC that failed with err, neither a refusal nor a handshake failure:
// the metadata store failed (it is counted as such), or there is a bug. An error of kind
// Unavailable (the store says it cannot be reached, see metastore.Store) is answered with the
// status store_unavailable; any other with a 500.
func (s *Server) rpcFailed(w http.ResponseWriter, r *http.Request, family string, err error) {
	s.metrics.storeErrors.WithLabelValues("metadata").Inc()
	if !parsec.IsKind(err, parsec.Unavailable) {
		s.log.Error("rpc failed", "family", family, "path", r.URL.Path, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	s.log.Error("rpc failed: metadata store unavailable", "family", family, "path", r.URL.Path, "err", err)
	if rec, ok := w.(*statusRecorder); ok {
		rec.replyStatus = string(protocol.StatusStoreUnavailable)
	}
	reply := protocol.EncodeError(errMetadataUnavailable)
	// The body may be unread (the store may have failed before it was read): close the
	// connection rather than read it.
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", protocol.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
	w.Write(reply)
}

// adminFailed is the answer to an administration request that failed with err, neither a
// refusal nor a handshake failure: 503 when the metadata store is unavailable, 500 otherwise.
func (s *Server) adminFailed(r *http.Request, err error) (int, any) {
	s.metrics.storeErrors.WithLabelValues("metadata").Inc()
	s.log.Error("administration request failed", "path", r.URL.Path, "err", err)
	if parsec.IsKind(err, parsec.Unavailable) {
		return http.StatusServiceUnavailable, protocol.AdminError{Detail: errMetadataUnavailable.Message, Status: protocol.StatusStoreUnavailable}
	}
	return http.StatusInternalServerError, map[string]string{"detail": "internal server error"}
}

// streamFailed answers an event stream request that failed with err before the stream
// started: 503 when the metadata store is unavailable, 500 otherwise.
func (s *Server) streamFailed(w http.ResponseWriter, err error) {
	s.metrics.storeErrors.WithLabelValues("metadata").Inc()
	s.log.Error("event stream", "err", err)
	if parsec.IsKind(err, parsec.Unavailable) {
		http.Error(w, errMetadataUnavailable.Message, http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "internal server error", http.StatusInternalServerError)
}
