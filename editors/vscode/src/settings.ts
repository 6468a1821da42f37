/**
 * Which `citewise.*` settings go to the server, and in what shape.
 * The server reads camelCase names (server/features/settings.py); the settings that only
 * the extension uses are kept back so the server never warns about unknown names.
 * Plain TypeScript: no VS Code API, so the unit tests run it directly.
 */

export const SECTION = "citewise";

/** Settings of the extension itself, never sent to the server. */
export const CLIENT_ONLY_SETTINGS: ReadonlySet<string> = new Set(["python", "trace", "trace.server"]);

/** The server setting names among the extension's contributed `citewise.*` properties. */
export function serverSettingNames(contributedProperties: Record<string, unknown>): string[] {
  return Object.keys(contributedProperties)
    .filter((qualified) => qualified.startsWith(`${SECTION}.`))
    .map((qualified) => qualified.slice(SECTION.length + 1))
    .filter((name) => !CLIENT_ONLY_SETTINGS.has(name) && !name.includes("."));
}

/** The object the server receives, read setting by setting (empty strings mean "use the default"). */
export function serverSettings(names: string[], read: (name: string) => unknown): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const name of names) {
    const value = read(name);
    if (value !== undefined) {
      settings[name] = value === "" ? null : value;
    }
  }
  return settings;
}

/** The `citewise` section as VS Code hands it over, without the extension's own settings. */
export function withoutClientSettings(section: unknown): unknown {
  if (section === null || typeof section !== "object" || Array.isArray(section)) {
    return section;
  }
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(section as Record<string, unknown>)) {
    if (!CLIENT_ONLY_SETTINGS.has(name)) {
      kept[name] = value;
    }
  }
  return kept;
}
