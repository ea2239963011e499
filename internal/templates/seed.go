package templates

import (
	"context"
	"time"

	"streamspace/internal/problem"
	"streamspace/internal/resources"
)

// Catalog is the seeded catalog. Every template but vscode runs an image of ours
// ("streamspace/<name>", built from images/<name> by make images, pushed to the stack's ECR by
// make push-images, resolved against it by imageref.Resolve); vscode still names the
// LinuxServer.io image the original's catalog did (code-server is not a Debian package), which
// does not serve VNC on 5900: on ECS it does not stream.
var Catalog = []Template{
	{Name: "firefox-browser", DisplayName: "Firefox", Description: "Mozilla Firefox web browser",
		Category: "Web Browsers", Tags: []string{"browser", "web", "mozilla"}, Image: "streamspace/firefox-browser:latest",
		DefaultResources: resources.Resources{CPU: "1", Memory: "2Gi"}, LocalCommand: "firefox-esr"},
	{Name: "chromium", DisplayName: "Chromium", Description: "Open-source Chromium web browser",
		Category: "Web Browsers", Tags: []string{"browser", "web", "chrome"}, Image: "streamspace/chromium:latest",
		DefaultResources: resources.Resources{CPU: "1", Memory: "2Gi"}, LocalCommand: "chromium"},
	{Name: "vscode", DisplayName: "VS Code", Description: "Visual Studio Code in the browser (code-server)",
		Category: "Development", Tags: []string{"ide", "editor", "development"}, Image: "lscr.io/linuxserver/code-server:latest",
		DefaultResources: resources.Resources{CPU: "2", Memory: "4Gi"}, LocalCommand: "xterm"},
	{Name: "libreoffice", DisplayName: "LibreOffice", Description: "Office suite: documents, spreadsheets, presentations",
		Category: "Productivity", Tags: []string{"office", "documents", "spreadsheet"}, Image: "streamspace/libreoffice:latest",
		DefaultResources: resources.Resources{CPU: "1", Memory: "2Gi"}, LocalCommand: "libreoffice"},
	{Name: "gimp", DisplayName: "GIMP", Description: "GNU Image Manipulation Program",
		Category: "Graphics", Tags: []string{"graphics", "image", "design"}, Image: "streamspace/gimp:latest",
		DefaultResources: resources.Resources{CPU: "1", Memory: "2Gi"}, LocalCommand: "gimp"},
	{Name: "terminal", DisplayName: "Terminal", Description: "A Linux desktop with a terminal",
		Category: "Development", Tags: []string{"shell", "terminal", "linux"}, Image: "streamspace/terminal:latest",
		DefaultResources: resources.Resources{CPU: "500m", Memory: "512Mi"}, LocalCommand: "xterm"},
}

// Seed adds the catalog's templates that are missing; it never overwrites an edited template.
func Seed(ctx context.Context, s *Store) error {
	now := time.Now().UTC()
	for _, t := range Catalog {
		t.CreatedAt, t.UpdatedAt = now, now
		if err := s.Put(ctx, t, CreateOnly); err != nil && problem.As(err) == nil {
			return err
		}
	}
	return nil
}
