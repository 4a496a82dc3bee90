package testvectors_test

import (
	"fmt"
	"os"

	"github.com/xchat-go/xchat/testvectors"
)

// Example reads the committed vectors and lists the signature-version cases
// that are stricter than the official SDK.
func Example() {
	raw, err := os.ReadFile("xchat.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := testvectors.Unmarshal(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range f.Cases {
		if c.Kind == testvectors.KindSignature && c.Op == "version" && c.Expect != testvectors.ExpectSuccess {
			v, _ := c.Inputs["signature_version"].(string)
			fmt.Printf("%q: %s\n", v, c.Expect)
		}
	}
	// Output:
	// "1": unsupported signature version
	// "0": unsupported signature version
	// "8": unsupported signature version
	// "07": unsupported signature version
	// "+7": unsupported signature version
	// " 7": unsupported signature version
	// "": unsupported signature version
	// "-7": unsupported signature version
}
