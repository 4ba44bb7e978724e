"""Socket.IO handlers: the same parse → access → service → dump pattern as api/."""
