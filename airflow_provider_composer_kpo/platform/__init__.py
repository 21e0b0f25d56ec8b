"""Cloud Composer platform rules and adapters: what differs between Composer 2 and 3, in one place."""
