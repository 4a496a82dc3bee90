package attacks

// rosterAttacks are the hostile-server attacks on group state: who is a
// member, who is an admin, and whom a group key is wrapped to (issue #11).
var rosterAttacks = []attack{}
