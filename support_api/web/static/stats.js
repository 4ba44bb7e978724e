// @ts-check
/** /console/stats (admins): the figures of GET /v1/admin/stats as Chart.js charts, and the
 *  operators' status and load, refreshed every 10 s. Chart.js is vendored (vendor/chart.umd.min.js). */
import { t } from "./i18n.js";
import { Api, categoryName, claimsOf, dropToken, el, expired, initLang, languageSelect, loadToken, renderSignIn } from "./common.js";

const root = /** @type {HTMLElement} */ (document.getElementById("app"));
const HOURS = 12;
const COLOURS = ["#0b5cad", "#c62828", "#2e7d32", "#8a6d00", "#6a1b9a", "#00695c"];
/** @type {Api} */ let api;
/** @type {any[]} */ let charts = [];
/** @type {any} */ let timer = null;
/** @type {Record<string, any>} */ const ui = {};

function start(message = "") {
  const token = loadToken();
  const claims = token ? claimsOf(token) : null;
  initLang(claims);
  if (!token || !claims) return renderSignIn(root, "stats.title", message, () => start());
  if (claims.role !== "admin") { dropToken(); return renderSignIn(root, "stats.title", t("signin.wrongRole", { role: "admin" }), () => start()); }
  if (expired(claims)) { dropToken(); return renderSignIn(root, "stats.title", t("signin.expired"), () => start()); }
  api = new Api(token, (reason) => {
    clearInterval(timer);
    dropToken();
    renderSignIn(root, "stats.title", reason === "expired" ? t("signin.expired") : t("signin.invalid"), () => start());
  });
  render();
}

function render() {
  document.title = t("stats.title");
  /** @param {string} id @param {string} key */
  const figure = (id, key) => el("figure", {}, el("figcaption", { id: `${id}-caption`, text: t(key) }),
    el("canvas", { id, role: "img", "aria-labelledby": `${id}-caption` }));
  ui.operators = el("tbody");
  root.replaceChildren(
    el("header", { class: "bar" }, el("h1", { text: t("stats.title") }),
      el("a", { href: "/console/", class: "bar-link", text: t("console.title") }),
      languageSelect(render),
      el("button", { type: "button", text: t("stats.refresh"), onclick: load })),
    el("main", { class: "stats-main" },
      el("h2", { text: t("stats.window") }),
      el("div", { class: "charts" },
        figure("chart-opened", "stats.opened"), figure("chart-hourly", "stats.hourly"),
        figure("chart-wait", "stats.wait"), figure("chart-first", "stats.firstResponse"),
        figure("chart-rating", "stats.ratings")),
      el("h2", { id: "operators-title", text: t("stats.operators") }),
      el("table", { "aria-labelledby": "operators-title" },
        el("thead", {}, el("tr", {}, ...["stats.operator", "status.label", "stats.load"].map((k) => el("th", { scope: "col", text: t(k) })))),
        ui.operators)));
  load();
  clearInterval(timer);
  timer = setInterval(loadOperators, 10000);
}

async function load() {
  const now = new Date();
  const hours = Array.from({ length: HOURS }, (_, i) => new Date(now.getTime() - (HOURS - i) * 3600_000));
  const [day, ...hourly] = await Promise.all([
    api.get("/admin/stats"),
    ...hours.map((since) => api.get(`/admin/stats?since=${encodeURIComponent(since.toISOString())}` +
                                     `&until=${encodeURIComponent(new Date(since.getTime() + 3600_000).toISOString())}`)),
  ]);
  for (const chart of charts) chart.destroy();
  charts = [];
  const departments = day.departments.map((/** @type {any} */ d) => d.department);
  const names = departments.map(categoryName);
  /** @param {string} id @param {string} type @param {any} data @param {any} [options] */
  const draw = (id, type, data, options = {}) => {
    // @ts-ignore Chart is the vendored UMD global
    charts.push(new window.Chart(document.getElementById(id), { type, data, options: { animation: false, responsive: true, ...options } }));
  };
  draw("chart-opened", "bar", { labels: names, datasets: [{ label: t("stats.opened"), backgroundColor: COLOURS[0],
    data: day.departments.map((/** @type {any} */ d) => d.sessions_opened) }] });
  const hourLabels = hours.map((h) => `${String(h.getHours()).padStart(2, "0")}:${String(h.getMinutes()).padStart(2, "0")}`);
  draw("chart-hourly", "bar", { labels: hourLabels, datasets: departments.map((/** @type {string} */ dep, /** @type {number} */ i) => ({
    label: categoryName(dep), backgroundColor: COLOURS[i % COLOURS.length],
    data: hourly.map((/** @type {any} */ h) => h.departments.find((/** @type {any} */ d) => d.department === dep)?.sessions_opened ?? 0) })) },
  { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
  /** @param {string} id @param {string} metric */
  const percentiles = (id, metric) => draw(id, "bar", { labels: names, datasets: [
    { label: t("stats.p50"), backgroundColor: COLOURS[0], data: day.departments.map((/** @type {any} */ d) => d[metric].p50) },
    { label: t("stats.p90"), backgroundColor: COLOURS[1], data: day.departments.map((/** @type {any} */ d) => d[metric].p90) }] });
  percentiles("chart-wait", "wait_seconds");
  percentiles("chart-first", "first_response_seconds");
  draw("chart-rating", "bar", { labels: names, datasets: [{ label: t("stats.ratings"), backgroundColor: COLOURS[2],
    data: day.departments.map((/** @type {any} */ d) => d.rating.average) }] }, { scales: { y: { min: 0, max: 5 } } });
  await loadOperators();
}

async function loadOperators() {
  const list = await api.get("/operators");
  ui.operators.replaceChildren(...list.items.map((/** @type {any} */ o) => el("tr", {},
    el("td", { text: o.name || o.id }), el("td", { text: t(`status.${o.status}`) }), el("td", { text: `${o.load} / ${o.capacity}` }))));
}

start();
