package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xchat-go/xchat/api"
)

// sdkResult is one op's timing as reported by interop/bench.mjs.
type sdkResult struct {
	NsPerOp    float64 `json:"nsPerOp"`
	CPUNsPerOp float64 `json:"cpuNsPerOp"`
	Iters      int     `json:"iters"`
	Scale      float64 `json:"scale"`
	Note       string  `json:"note"`
	Error      string  `json:"error"`
}

type sdkRun struct {
	version string
	results map[string]sdkResult
}

// sdkAccount is an SDK account in the fixture: its 64-byte backup.
type sdkAccount struct {
	Backup  string `json:"backup"`
	ID      string `json:"id"`
	Version string `json:"version"`
}

type sdkPublicKey struct {
	UserID     string `json:"userId"`
	PublicKey  string `json:"publicKey"`
	KeyVersion string `json:"keyVersion"`
}

type sdkKeyChange struct {
	ConversationID string         `json:"conversationId"`
	PublicKeys     []sdkPublicKey `json:"publicKeys"`
}

type sdkFixture struct {
	Ops                    []string                `json:"ops"`
	MinTimeMs              int64                   `json:"minTimeMs"`
	Alice                  sdkAccount              `json:"alice"`
	Bob                    sdkAccount              `json:"bob"`
	ConversationID         string                  `json:"conversationId"`
	ConversationKey        string                  `json:"conversationKey"`
	ConversationKeyVersion string                  `json:"conversationKeyVersion"`
	Text                   string                  `json:"text"`
	SigningKeys            []map[string]string     `json:"signingKeys"`
	Histories              map[string][]string     `json:"histories"`
	KeyChanges             map[string]sdkKeyChange `json:"keyChanges"`
	StreamBytes            int                     `json:"streamBytes"`
}

// sdkAvailable reports whether node and the installed SDK are present.
func sdkAvailable(root string) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%w: node not on PATH", errSDK)
	}
	if _, err := os.Stat(filepath.Join(root, "interop", "node_modules", "@xdevplatform", "chat-xdk", "package.json")); err != nil {
		return "", fmt.Errorf("%w: run npm ci in interop/", errSDK)
	}
	return node, nil
}

// sdkKeyChangeInput is one key change the SDK prepares: the same
// participants as the engine's rotation row.
type sdkKeyChangeInput struct {
	op, conv string
	keys     []api.PublicKey
}

// sdkInputs are the inputs the engine rows ran on, for the SDK to run on.
type sdkInputs struct {
	text                string
	sendBackup          []byte
	sendID, sendVersion string
	reader              *convFixture    // the history's reader
	senderKeys          []api.PublicKey // the history's sender (alice), as published
	pageN               int             // the page is the history's first pageN messages
	keyChanges          []sdkKeyChangeInput
	streamBytes         int
}

// fill copies the SDK's figures into the rows that name an SDK op.
func (s *sdkRun) fill(rows []Row) {
	for i := range rows {
		row := &rows[i]
		if row.SDKOp == "" {
			continue
		}
		res, ok := s.results[row.SDKOp]
		if !ok {
			continue
		}
		if res.Error != "" {
			row.SDKNote = "error: " + res.Error
			continue
		}
		row.SDK, row.SDKNote = res.NsPerOp, res.Note
		if row.Procs == 1 && res.CPUNsPerOp > 0 {
			row.SDK = res.CPUNsPerOp
		}
	}
}

// fixture renders the SDK's fixture.
func (in *sdkInputs) fixture() *sdkFixture {
	std := base64.StdEncoding.EncodeToString
	b64s := func(evs [][]byte) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = std(e)
		}
		return out
	}
	sender := in.senderKeys[len(in.senderKeys)-1]
	hist := in.reader.events
	kcs := len(hist) - in.reader.n
	fx := &sdkFixture{
		Ops:                    []string{"send_text_1k", "decrypt_page", "decrypt_history"},
		MinTimeMs:              1000,
		Alice:                  sdkAccount{std(in.sendBackup), in.sendID, in.sendVersion},
		Bob:                    sdkAccount{std(in.reader.backup), in.reader.id, in.reader.version},
		ConversationID:         in.sendID + ":1002",
		ConversationKey:        std(randomBytes(32)),
		ConversationKeyVersion: "1795000000100",
		Text:                   in.text,
		SigningKeys: []map[string]string{{
			"userId":                     sender.UserID,
			"publicKeyVersion":           sender.PublicKeyVersion,
			"publicKey":                  sender.SigningPublicKey,
			"identityPublicKey":          sender.PublicKey,
			"identityPublicKeySignature": sender.IdentityPublicKeySignature,
		}},
		Histories:   map[string][]string{"decrypt_page": b64s(hist[:kcs+in.pageN]), "decrypt_history": b64s(hist)},
		KeyChanges:  map[string]sdkKeyChange{},
		StreamBytes: in.streamBytes,
	}
	if in.pageN < 100 {
		fx.MinTimeMs = 50
	}
	for _, kc := range in.keyChanges {
		k := sdkKeyChange{ConversationID: kc.conv}
		for _, p := range kc.keys {
			k.PublicKeys = append(k.PublicKeys, sdkPublicKey{p.UserID, p.PublicKey, p.PublicKeyVersion})
		}
		fx.KeyChanges[kc.op] = k
		fx.Ops = append(fx.Ops, kc.op)
	}
	fx.Ops = append(fx.Ops, "stream_encrypt", "stream_decrypt")
	return fx
}

// runSDK times the official SDK on the same inputs with interop/bench.mjs.
func runSDK(mode, root, tmp string, logw io.Writer, in *sdkInputs) (*sdkRun, error) {
	if mode == SDKOff {
		return &sdkRun{version: "not run (-sdk=off)"}, nil
	}
	node, err := sdkAvailable(root)
	if err != nil {
		if mode == SDKRequire {
			return nil, err
		}
		return &sdkRun{version: "not run: " + strings.TrimPrefix(err.Error(), "bench: ")}, nil
	}
	fx := in.fixture()
	file := filepath.Join(tmp, "sdk-fixture.json")
	js, err := json.Marshal(fx)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(file, js, 0o600); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	fmt.Fprintf(logw, "sdk: node interop/bench.mjs (%d ops)\n", len(fx.Ops))
	cmd := exec.CommandContext(ctx, node, "bench.mjs", file)
	cmd.Dir = filepath.Join(root, "interop")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logw
	var res struct {
		SDK     string               `json:"sdk"`
		Node    string               `json:"node"`
		Results map[string]sdkResult `json:"results"`
	}
	err = cmd.Run()
	if err == nil {
		err = json.Unmarshal(out.Bytes(), &res)
	}
	if err != nil {
		err = fmt.Errorf("%w: node bench.mjs: %w", errSDK, err)
		if mode == SDKRequire {
			return nil, err
		}
		return &sdkRun{version: "failed: " + strings.TrimPrefix(err.Error(), "bench: ")}, nil
	}
	return &sdkRun{version: fmt.Sprintf("@xdevplatform/chat-xdk %s (WASM) on node %s", res.SDK, res.Node), results: res.Results}, nil
}
