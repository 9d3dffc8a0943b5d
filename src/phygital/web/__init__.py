"""The web app's shell: layout, login, language, error pages, template filters."""
