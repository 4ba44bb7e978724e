"""End-to-end tests: a real `support-api serve` process, real HTTP and Socket.IO clients."""
