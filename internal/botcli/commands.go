package botcli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/xchat-go/xchat/bot"
)

// maxFileBytes bounds the file !file sends back.
const maxFileBytes = 16 << 20

// register installs the example's commands and hooks.
func register(b *bot.Bot) {
	b.Command("echo", echo, "say").Usage("TEXT").Describe("repeats TEXT")
	b.Command("help", func(c *bot.Context) error {
		_, err := c.Reply(c.Bot().Help())
		return err
	}).Describe("lists the commands")
	b.Command("whoami", whoami).Describe("your user id and the safety number of you and me")
	b.Command("file", file).Describe("send me a file with this caption: I decrypt it and send it back with its SHA-256")
	b.OnJoin(func(c *bot.Context) error {
		_, err := c.Send("Hello! I am a bot; " + c.Bot().Help())
		return err
	})
}

func echo(c *bot.Context) error {
	text := c.RawArgs()
	if text == "" {
		text = "usage: " + c.Bot().Prefix() + "echo TEXT"
	}
	_, err := c.Reply(text)
	return err
}

func whoami(c *bot.Context) error {
	sn, err := c.SafetyNumber()
	if err != nil {
		return err
	}
	_, err = c.Reply(fmt.Sprintf("You are %s. The safety number of you and me is %s: compare it with 'xchat keys verify %s' on your side.",
		c.Sender(), sn, c.Bot().UserID()))
	return err
}

// file decrypts the attachment and sends it back.
func file(c *bot.Context) error {
	media := c.Media()
	if len(media) == 0 {
		_, err := c.Reply("Send a file with the caption !file and I send it back.")
		return err
	}
	m := media[0]
	data, err := m.Download(c)
	if err != nil {
		return err
	}
	if len(data) > maxFileBytes {
		_, err := c.Reply(fmt.Sprintf("%s is %d bytes; I send back up to %d.", m.Name(), len(data), maxFileBytes))
		return err
	}
	sum := sha256.Sum256(data)
	_, err = c.SendFile(bot.File{Name: m.Name(), Data: data, Type: m.Type(),
		Caption: fmt.Sprintf("%s: %d bytes, sha256 %s", m.Name(), len(data), hex.EncodeToString(sum[:]))})
	return err
}
