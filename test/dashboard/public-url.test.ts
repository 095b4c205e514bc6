/**
 * The dashboard's public URL (config/telegram dashboard.publicUrl, CST_DASHBOARD_URL): https, or http on
 * this machine only: a session's bearer token never travels in clear text over a network.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TELEGRAM_CONFIG, dashboardUrlFrom, telegramConfigSchema } from '../../shared/config/telegram.js';

const withUrl = (publicUrl: string | null) => ({ ...DEFAULT_TELEGRAM_CONFIG, dashboard: { ...DEFAULT_TELEGRAM_CONFIG.dashboard, publicUrl } });

describe('dashboard public URL', () => {
  it('accepts https anywhere and http on localhost only', () => {
    for (const ok of ['https://dashboard-abc-uc.a.run.app/dashboard', 'http://127.0.0.1:8080/dashboard', 'http://localhost:8080/dashboard', null]) {
      expect(telegramConfigSchema.safeParse(withUrl(ok)).success, String(ok)).toBe(true);
    }
    for (const bad of ['http://dashboard.example.com/dashboard', 'ftp://x/y', 'javascript:alert(1)']) {
      const r = telegramConfigSchema.safeParse(withUrl(bad));
      expect(r.success, bad).toBe(false);
    }
  });

  it('the environment variable follows the same rule and wins over the document', () => {
    const cfg = withUrl('https://a.example/dashboard');
    expect(dashboardUrlFrom(cfg, { CST_DASHBOARD_URL: 'https://b.example/dashboard/' })).toBe('https://b.example/dashboard');
    expect(dashboardUrlFrom(cfg, {})).toBe('https://a.example/dashboard');
    expect(() => dashboardUrlFrom(cfg, { CST_DASHBOARD_URL: 'http://b.example/dashboard' })).toThrow(/https URL/);
  });
});
