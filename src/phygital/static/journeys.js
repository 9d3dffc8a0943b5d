// The journeys dashboard: draws its three charts with Plotly from the JSON the page embeds
// (#journeys-charts: labels already translated, numbers already aggregated). The same numbers
// are in the tables under each chart, so the page still says everything without JavaScript.
// Plotly (4.8 MB, served by this app from the installed Python package, cached for a year) is
// fetched once the page has loaded: the figures and tables show at once, the charts follow.
// Choosing a day in the filters switches the period to "from one day to another".
(function () {
  "use strict";

  var period = document.getElementById("jr-period");
  document.querySelectorAll("#jr-filters .jr-day").forEach(function (input) {
    input.addEventListener("change", function () {
      if (period) { period.value = "custom"; }
    });
  });

  var source = document.getElementById("journeys-charts");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var font = { family: getComputedStyle(document.body).fontFamily, size: 12, color: "#1c2421" };

  function layout(extra) {
    var base = {
      separators: data.separators,
      font: font,
      margin: { l: 56, r: 56, t: 16, b: 48 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: true,
      legend: { orientation: "h", x: 0, y: -0.18, traceorder: "normal" },
      hovermode: "x unified",
      xaxis: { type: "category", tickangle: -30, automargin: true },
      yaxis: { rangemode: "tozero", gridcolor: "#dde3e0", automargin: true }
    };
    Object.keys(extra).forEach(function (key) {
      var value = extra[key];
      base[key] = typeof value === "object" ? Object.assign({}, base[key] || {}, value) : value;
    });
    return base;
  }

  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  var charts = {
    weekly: function (c) {
      var traces = c.series.map(function (s) {
        return { type: "bar", name: s.name, x: c.x, y: s.y, marker: { color: s.color },
                 hovertemplate: "%{y}<extra>" + s.name + "</extra>" };
      });
      return [traces, layout({ barmode: "stack", yaxis: { title: { text: c.yTitle } } })];
    },
    share: function (c) {
      var traces = c.series.map(function (s) {
        return { type: "scatter", mode: "lines+markers", name: s.name, x: c.x, y: s.y,
                 connectgaps: false, line: { color: s.color, width: 2 },
                 hovertemplate: "%{y:.1%}<extra>" + s.name + "</extra>" };
      });
      return [traces, layout({ yaxis: { title: { text: c.yTitle }, tickformat: ".0%" } })];
    },
    mix: function (c) {
      var traces = [
        { type: "bar", name: c.online.name, x: c.x, y: c.online.y, marker: { color: c.online.color },
          hovertemplate: "%{y}<extra>" + c.online.name + "</extra>" },
        { type: "bar", name: c.offline.name, x: c.x, y: c.offline.y, marker: { color: c.offline.color },
          hovertemplate: "%{y}<extra>" + c.offline.name + "</extra>" },
        { type: "scatter", mode: "lines+markers", name: c.share.name, x: c.x, y: c.share.y,
          yaxis: "y2", line: { color: c.share.color, width: 2 },
          hovertemplate: "%{y:.1%}<extra>" + c.share.name + "</extra>" }
      ];
      return [traces, layout({
        barmode: "group",
        yaxis: { title: { text: c.yTitle } },
        yaxis2: { title: { text: c.y2Title }, overlaying: "y", side: "right", range: [0, 1],
                  tickmode: "linear", tick0: 0, dtick: 0.25, tickformat: ".0%", showgrid: false,
                  automargin: true }
      })];
    }
  };

  function draw() {
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      var name = node.getAttribute("data-chart");
      if (!charts[name] || !data[name]) { return; }
      var drawn = charts[name](data[name]);
      window.Plotly.newPlot(node, drawn[0], drawn[1], config);
    });
  }

  function loadPlotly() {
    if (window.Plotly) { draw(); return; }
    var script = document.createElement("script");
    script.src = source.getAttribute("data-plotly-src");
    script.addEventListener("load", draw);
    document.head.appendChild(script);
  }

  if (document.readyState === "complete") {
    loadPlotly();
  } else {
    window.addEventListener("load", loadPlotly);
  }
})();
