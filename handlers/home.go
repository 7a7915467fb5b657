package handlers

import (
	"github.com/gofiber/fiber/v2"

	"portal/components"
)

// home is where a signed-in contact lands.
func home(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, components.HomePage(shell(c, "Home", "home")), nil)
}
