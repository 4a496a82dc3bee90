// trees.thrift — ratchet-tree group operation material for XChat.
//
// xchat-go's own rendition of the wire schema used by X's Chat XDK. Field ids,
// types, names and requiredness match the official IDL so the Thrift binary
// encoding is identical; comments and ordering are ours.
//
// Note: several fields here are `required`. The Go generator turns those into
// non-pointer fields that are always written and whose absence is a decode
// error ("required field ... is not set").

namespace go trees

// Kind of group operation carried in GroupOpData.typeData.
enum GroupOpType {
  GenGroup = 1,
  Edit = 6,
}

// A group member at a given public key version. Both ids are numeric.
struct Member {
  1: required i64 userId
  2: required i64 keyVersion
}

// Raw public key bytes of a tree node.
struct PubKeyBytes {
  1: required binary pubKeyBytes
}

// Per-member key material attached to a group operation.
struct MemberKeyInfo {
  1: optional binary identityPublicKey
  2: optional binary signingPublicKey
  3: optional binary identityKeySignature
}

// Public key and subtree hash of an interior or leaf node.
struct TreeKeyData {
  1: required PubKeyBytes publicKey
  2: required binary subTreeHash
}

// A node of the ratchet tree. nodeSecretKeyEncryptions maps a child public key
// to the node secret encrypted to it (descending through blank children).
struct TreeNode {
  1: optional Member member
  2: optional TreeKeyData keyData
  3: optional map<binary, binary> nodeSecretKeyEncryptions
}

// Optional wrapper so a full tree list can contain blank slots.
struct MaybeTreeNode {
  1: optional TreeNode node
}

// Group generation: initial path update and membership.
struct GenGroupOpData {
  1: optional map<i32, map<binary, binary>> updateMap
  2: optional map<i32, binary> newPathPks
  3: optional list<Member> initialMembers
}

// Group edit: path update plus membership deltas and, optionally, the full tree.
struct EditOpData {
  1: optional map<i32, map<binary, binary>> updateMap
  2: optional map<i32, binary> newPathPks
  3: optional list<Member> membersLeft
  4: optional list<Member> membersToAdd
  5: optional list<Member> membersUpdated
  6: optional list<MaybeTreeNode> fullTreeList
}

// Operation-specific payload; field ids mirror GroupOpType values.
union TypeData {
  1: GenGroupOpData genGroup
  6: EditOpData edit
}

// One ratchet-tree operation, carried in ConversationKeyChangeEvent field 4
// and (base64) in the REST field base64_encoded_key_rotation.
struct GroupOpData {
  1: optional string groupId
  2: optional i64 treeVersion
  3: optional Member actionBy
  4: optional TypeData typeData
  // field 5 is retired upstream; never reuse it
  6: optional map<i64, MemberKeyInfo> memberKeyInfo
}
