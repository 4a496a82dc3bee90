package inbound

// MaxKeyChangeParticipants bounds the participant entries of one key
// change; a key change listing more is malformed (ErrMalformed) and keeps
// none of them. A key change wraps the key once per member, so no honest
// one lists more entries than a group has members: X's API caps a new
// group at 49 invitees besides its creator (participant_ids, maxItems 49,
// in the chat OpenAPI), and XChat groups are reported to hold at most 481
// members. 1,024 leaves room above both. Without a cap, entries of one
// byte on the wire (an empty struct) cost about 50 bytes each once
// decoded, and a page of such key changes inflated a 16 MiB response to
// over 700 MiB of live heap.
const MaxKeyChangeParticipants = 1024
