package server

// realmCommands are the realm (workspace) commands of the authenticated family.
func (s *Server) realmCommands() map[string]handler {
	return map[string]handler{}
}
