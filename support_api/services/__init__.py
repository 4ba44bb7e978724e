"""Use cases. Each function that changes state commits, then emits (never the reverse),
so no client ever sees what the database does not hold. REST and Socket.IO handlers
both call these, so both paths share one set of rules."""
