package server

// dataCommands are the vlob and block commands of the authenticated family.
func (s *Server) dataCommands() map[string]handler {
	return map[string]handler{}
}
