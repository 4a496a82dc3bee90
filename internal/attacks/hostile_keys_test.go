package attacks

// keyAttacks are the hostile-server attacks on peer key history, unverified
// keys, memory bounds, edits, deletes and previews (issue #11).
var keyAttacks = []attack{}
