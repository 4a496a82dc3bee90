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

// runSDK times the official SDK on the same inputs with interop/bench.mjs.
func runSDK(mode, root, tmp string, logw io.Writer, w *world, text string, page, hist [][]byte,
	recips []recipient, sz Sizes) (*sdkRun, error) {
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
	sk, err := w.sdkSigningKey()
	if err != nil {
		return nil, err
	}
	std := base64.StdEncoding.EncodeToString
	b64s := func(evs [][]byte) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = std(e)
		}
		return out
	}
	fx := sdkFixture{
		Ops:                    []string{"send_text_1k", "decrypt_page", "decrypt_history"},
		MinTimeMs:              1000,
		Alice:                  sdkAccount{std(w.alice.Backup()), aliceID, aliceVersion},
		Bob:                    sdkAccount{std(w.bob.Backup()), bobID, bobVersion},
		ConversationID:         convID,
		ConversationKey:        std(w.ckey[:]),
		ConversationKeyVersion: ckeyVersion,
		Text:                   text,
		SigningKeys:            []map[string]string{sk},
		Histories:              map[string][]string{"decrypt_page": b64s(page), "decrypt_history": b64s(hist)},
		KeyChanges:             map[string]sdkKeyChange{},
		StreamBytes:            sz.Stream,
	}
	if sz.Page < 100 {
		fx.MinTimeMs = 50
	}
	for _, n := range sz.KeyChange {
		kc := sdkKeyChange{ConversationID: convID}
		if n > 2 {
			kc.ConversationID = groupID
		}
		for _, r := range recips[:n] {
			kc.PublicKeys = append(kc.PublicKeys, sdkPublicKey{r.userID, std(r.identity.SPKI()), r.version})
		}
		op := fmt.Sprintf("keychange_%d", n)
		fx.KeyChanges[op] = kc
		fx.Ops = append(fx.Ops, op)
	}
	fx.Ops = append(fx.Ops, "stream_encrypt", "stream_decrypt")
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
