"""The change feed: every committed entity change, published to NATS JetStream.

The entity store writes each change to its durable outbox in the change's own transaction
(`record_all_changes`). `ChangeRelay` reads the outbox past its own cursor, publishes each
change to a JetStream stream, and moves its cursor only once JetStream has acknowledged them:
a change is never lost, and a change published twice (a crash between the acknowledgement and
the cursor) is dropped by JetStream's duplicate window, which knows it by its message id.
Analytics jobs, data lakes and other services read the stream with their own durable
consumers, from any point the stream still keeps.
"""
