package wire

import (
	"bytes"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/xchat-go/xchat/thriftgen/trees"
)

func TestMapsEncodeInKeyOrder(t *testing.T) {
	// i64 keys sort numerically (negative first), as in a Rust BTreeMap.
	g := &trees.GroupOpData{MemberKeyInfo: map[int64]*trees.MemberKeyInfo{
		2:  {},
		-1: {},
		70: {},
	}}
	want := cat(
		fh(thrift.MAP, 6), []byte{byte(thrift.I64), byte(thrift.STRUCT)}, be32(3),
		be64(-1), stop,
		be64(2), stop,
		be64(70), stop,
		stop)
	for i := 0; i < 20; i++ {
		got, err := EncodeGroupOpData(g)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d:\n got %x\nwant %x", i, got, want)
		}
	}

	// binary keys sort bytewise ("a" < "ab" < "b"), not by length prefix.
	n := &trees.MaybeTreeNode{Node: &trees.TreeNode{NodeSecretKeyEncryptions: map[string][]byte{
		"b":  {3},
		"ab": {2},
		"a":  {1},
	}}}
	want = cat(
		fh(thrift.STRUCT, 1),
		fh(thrift.MAP, 3), []byte{byte(thrift.STRING), byte(thrift.STRING)}, be32(3),
		bstr("a"), be32(1), []byte{1},
		bstr("ab"), be32(1), []byte{2},
		bstr("b"), be32(1), []byte{3},
		stop, stop)
	for i := 0; i < 20; i++ {
		got, err := Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d:\n got %x\nwant %x", i, got, want)
		}
	}
}

func TestNestedMapsEncodeInKeyOrder(t *testing.T) {
	e := &trees.EditOpData{
		UpdateMap: map[int32]map[string][]byte{
			7:  {"y": {1}, "x": {2}},
			-3: {"k": {3}},
		},
		NewPathPks_: map[int32][]byte{1: {9}, 0: {8}},
	}
	want := cat(
		fh(thrift.MAP, 1), []byte{byte(thrift.I32), byte(thrift.MAP)}, be32(2),
		be32(-3), []byte{byte(thrift.STRING), byte(thrift.STRING)}, be32(1), bstr("k"), be32(1), []byte{3},
		be32(7), []byte{byte(thrift.STRING), byte(thrift.STRING)}, be32(2), bstr("x"), be32(1), []byte{2}, bstr("y"), be32(1), []byte{1},
		fh(thrift.MAP, 2), []byte{byte(thrift.I32), byte(thrift.STRING)}, be32(2),
		be32(0), be32(1), []byte{8},
		be32(1), be32(1), []byte{9},
		stop)
	for i := 0; i < 20; i++ {
		got, err := Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d:\n got %x\nwant %x", i, got, want)
		}
	}
	back := trees.NewEditOpData()
	if err := UnmarshalExact(want, back); err != nil {
		t.Fatal(err)
	}
	if string(back.UpdateMap[7]["x"]) != "\x02" || string(back.NewPathPks_[1]) != "\x09" {
		t.Fatalf("decoded maps wrong: %+v", back)
	}
}

func TestGroupOpDataRoundTrip(t *testing.T) {
	gid := "g123"
	tv := int64(4)
	g := &trees.GroupOpData{
		GroupId:     &gid,
		TreeVersion: &tv,
		ActionBy:    &trees.Member{UserId: 1111, KeyVersion: 1700000000000},
		TypeData: &trees.TypeData{Edit: &trees.EditOpData{
			MembersToAdd: []*trees.Member{{UserId: 2222, KeyVersion: 1}},
			FullTreeList: []*trees.MaybeTreeNode{
				{},
				{Node: &trees.TreeNode{
					Member:  &trees.Member{UserId: 2222, KeyVersion: 1},
					KeyData: &trees.TreeKeyData{PublicKey: &trees.PubKeyBytes{PubKeyBytes: []byte{4, 1, 2}}, SubTreeHash: []byte{}},
				}},
			},
		}},
		MemberKeyInfo: map[int64]*trees.MemberKeyInfo{2222: {SigningPublicKey: []byte{4, 9}}},
	}
	b, err := EncodeGroupOpData(g)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeGroupOpData(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeGroupOpData(back)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-encode differs: %v", err)
	}
	if back.TypeData.Edit.FullTreeList[1].Node.KeyData.SubTreeHash == nil {
		t.Fatal("empty required binary decoded as absent")
	}
	// Required struct field left nil is an encode error, not a panic.
	g.TypeData.Edit.FullTreeList[1].Node.KeyData.PublicKey = nil
	if _, err := EncodeGroupOpData(g); err == nil {
		t.Fatal("encoding a nil required struct succeeded")
	}
}
