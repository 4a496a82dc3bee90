package event

import (
	"testing"
)

func TestMediaTypeOf(t *testing.T) {
	for name, want := range map[string]MediaType{"a.PNG": MediaImage, "b.gif": MediaGIF,
		"c.mp4": MediaVideo, "d.ogg": MediaAudio, "e.pdf": MediaFile, "noext": MediaFile, "dir.png/f": MediaFile} {
		if got := MediaTypeOf(name); got != want {
			t.Errorf("MediaTypeOf(%q) = %v, want %v", name, got, want)
		}
	}
}
