"""Reading attention maps, one module per job: ``rollout`` (rollout and value-norm maps), ``heads`` (head
statistics and roles), ``views`` (word merging and view filters), ``comparison`` (two sentences that differ by a
word)."""
