package server

// OnSubscribe calls fn with the operation id each time a long-poll or event stream starts
// listening for changes of an operation.
func OnSubscribe(s *Server, fn func(id string)) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.subscribed = fn
}
