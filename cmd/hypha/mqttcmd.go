package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/mqtt"
)

func init() { commands = append(commands, mqttCmd) }

func mqttCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "mqtt", Short: "MQTT helpers for devices"}
	c.AddCommand(mqttTokenCmd(g))
	return c
}

func mqttTokenCmd(g *globals) *cobra.Command {
	var (
		keyName, device, passFile string
		ttl                       time.Duration
	)
	c := &cobra.Command{
		Use:   "token --key NAME [--device ID]",
		Short: "Make the MQTT username and password (a signed, expiring token) for a device or account",
		Long: `Make MQTT credentials: the username is the device id (or account address) and
the password a token signed by its current key. A device whose key was
rotated passes its original id with --device.`,
		Example: `  hypha mqtt token --key thermo1
  mosquitto_sub -h 127.0.0.1 -p 1883 -V mqttv5 -q 1 \
    -u "$(hypha mqtt token --key thermo1 --username)" -P "$(hypha mqtt token --key thermo1 --password)" \
    -t "hypha/v1/devices/$(hypha keys show thermo1 --device)/inbox"`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyName == "" {
				return usageError{fmt.Errorf("--key is required")}
			}
			k, err := g.signingKey(keyName, passFile)
			if err != nil {
				return err
			}
			id := k.Public().Address()
			user := id.Device()
			if device != "" {
				if id, err = g.resolveAddress(device); err != nil {
					return err
				}
				user = id.Device()
			} else if known, err := g.isDevice(cmd, id); err == nil && !known {
				user = id.Account()
			}
			tok, err := mqtt.MakeToken(k, id, time.Now(), ttl)
			if err != nil {
				return err
			}
			onlyUser, _ := cmd.Flags().GetBool("username")
			onlyPass, _ := cmd.Flags().GetBool("password")
			switch {
			case onlyUser:
				fmt.Fprintln(g.stdout, user)
				return nil
			case onlyPass:
				fmt.Fprintln(g.stdout, tok)
				return nil
			}
			return g.emit(map[string]any{"username": user, "password": tok, "expires": time.Now().Add(ttl).UTC()}, func(w io.Writer) {
				fmt.Fprintf(w, "username  %s\npassword  %s\nexpires   %s\n", user, tok, time.Now().Add(ttl).UTC().Format(time.RFC3339))
			})
		},
	}
	c.Flags().StringVar(&keyName, "key", "", "key name in the keyring")
	c.Flags().StringVar(&device, "device", "", "device id, when the key is not the device's first key")
	c.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid (at most 24h)")
	c.Flags().StringVar(&passFile, "passphrase-file", "", "file holding the key's passphrase")
	c.Flags().Bool("username", false, "print only the username")
	c.Flags().Bool("password", false, "print only the password")
	return c
}

// isDevice tells whether addr is a registered device, asking the node.
func (g *globals) isDevice(cmd *cobra.Command, addr keys.Address) (bool, error) {
	_, err := g.client().Device(cmd.Context(), addr.Device(), nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errs.ErrNotFound):
		return false, nil
	}
	return false, err
}
