package config

import (
	"strings"
	"testing"
)

func TestWebhookAndPushSettings(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		name string
		env  []string
		want string // "" = valid
	}{
		{"short webhook secret", []string{"SIGNET_WEBHOOK_SECRET=short"}, "SIGNET_WEBHOOK_SECRET must be at least 32"},
		{"default URL without a secret", []string{"SIGNET_WEBHOOK_DEFAULT_URL=https://bank.example/hooks"}, "needs SIGNET_WEBHOOK_SECRET"},
		{"plain http default URL on a remote host", []string{"SIGNET_WEBHOOK_SECRET=" + secret, "SIGNET_WEBHOOK_DEFAULT_URL=http://bank.example/hooks"}, "must be an https URL"},
		{"default URL with credentials", []string{"SIGNET_WEBHOOK_SECRET=" + secret, "SIGNET_WEBHOOK_DEFAULT_URL=https://u:p@bank.example/hooks"}, "must be an https URL"},
		{"push URL not a URL", []string{"SIGNET_PUSH_URL=relay"}, "SIGNET_PUSH_URL must be"},
		{"short push secret", []string{"SIGNET_PUSH_URL=https://push.example", "SIGNET_PUSH_SECRET=x"}, "SIGNET_PUSH_SECRET must be at least 32"},
		{"webhooks to https", []string{"SIGNET_WEBHOOK_SECRET=" + secret, "SIGNET_WEBHOOK_DEFAULT_URL=https://bank.example/hooks"}, ""},
		{"webhooks to localhost over http", []string{"SIGNET_WEBHOOK_SECRET=" + secret, "SIGNET_WEBHOOK_DEFAULT_URL=http://127.0.0.1:9999/h"}, ""},
		{"push relay inside the network", []string{"SIGNET_PUSH_URL=http://push-relay:8080/send", "SIGNET_PUSH_SECRET=" + secret}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
