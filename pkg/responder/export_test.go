package responder

// WaitDiscovery waits for a background refresh of the tag selectors' answer to end, so a test can
// look at what the refresh found.
func (h *Handler) WaitDiscovery() {
	if w, ok := h.resolver.Scope().(interface{ Wait() }); ok {
		w.Wait()
	}
}
