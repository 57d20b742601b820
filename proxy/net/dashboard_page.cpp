// The /dashboard page: one HTML document with its CSS and script inline (no CDN, no build
// step). It reads /dashboard/events (same origin, the admin cookie) and draws the figures
// and a small canvas chart of connections per transport over the last ten minutes.
#include "net/dashboard.hpp"

namespace cutover::net {

const std::string& dashboard_page() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cutover dashboard</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:center}
header h1{font-size:17px;margin:0}#state{font-weight:600}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;padding:14px}
section{background:#fff;border-radius:6px;padding:10px 14px;box-shadow:0 1px 2px #0002}
h2{font-size:13px;text-transform:uppercase;color:#667;margin:0 0 6px}
table{border-collapse:collapse;width:100%}td{padding:2px 4px}td.n{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.ok{color:#17803d}.bad{color:#c0262d}#chart{width:100%;height:160px}.wide{grid-column:1/-1}
</style></head><body>
<header><h1>Cutover</h1><span>ready: <span id="state">waiting for data</span></span><span id="updated"></span></header>
<main>
<section><h2>Connections</h2><table id="connections"></table></section>
<section><h2>Users last hour</h2><table id="users"></table><small>2+: seen on two or more transports</small></section>
<section><h2>Deliveries / s</h2><table id="rates"></table></section>
<section><h2>Live delivery latency (p50 / p99)</h2><table id="latency"></table></section>
<section><h2>Ingest and store</h2><table id="ingest"></table></section>
<section class="wide"><h2>Connections, last 10 minutes</h2><canvas id="chart" width="900" height="160"></canvas></section>
</main>
<script>
"use strict";
const hist=[];const colors=["#2563eb","#dc2626","#16a34a","#9333ea","#ea580c"];
function fmt(v,unit){if(v===null||v===undefined)return "–";if(unit==="s"){if(v==="+Inf")return "> 10 s";return v<1?(v*1000).toFixed(1)+" ms":v.toFixed(2)+" s";}return typeof v==="number"?(Math.round(v*10)/10).toString():String(v);}
function rows(id,obj,unit){const t=document.getElementById(id);t.textContent="";for(const[k,v]of Object.entries(obj)){const r=t.insertRow();r.insertCell().textContent=k;const c=r.insertCell();c.className="n";c.dataset.key=k;c.textContent=fmt(v,unit);}}
function draw(){const c=document.getElementById("chart"),g=c.getContext("2d");g.clearRect(0,0,c.width,c.height);if(!hist.length)return;const keys=Object.keys(hist[0].connections);let max=1;for(const h of hist)for(const k of keys)max=Math.max(max,h.connections[k]);keys.forEach((k,i)=>{g.strokeStyle=colors[i%colors.length];g.beginPath();hist.forEach((h,j)=>{const x=j*(c.width-60)/599,y=c.height-8-(h.connections[k]/max)*(c.height-20);j?g.lineTo(x,y):g.moveTo(x,y);});g.stroke();g.fillStyle=g.strokeStyle;g.fillText(k,c.width-55,14+12*i);});g.fillStyle="#667";g.fillText("max "+max,4,12);}
function show(s){
 document.getElementById("state").textContent=s.ready?"yes":"NO";document.getElementById("state").className=s.ready?"ok":"bad";
 document.getElementById("updated").textContent="updated "+new Date(s.time_ms).toLocaleTimeString();
 rows("connections",Object.assign({},s.connections,{"waiting polls":s.waiting_polls}));
 rows("users",s.users_last_hour);rows("rates",s.deliveries_per_s);
 const lat={};for(const[k,v]of Object.entries(s.delivery_latency_s))lat[k]=v.count?fmt(v.p50,"s")+" / "+fmt(v.p99,"s"):"no deliveries yet";rows("latency",lat);
 rows("ingest",{"ingest lag (ms)":s.ingest_lag_ms,"store commit p99":fmt(s.store_commit_p99_s,"s"),"dead letters":s.dead_letters,"rollout %":s.ws_rollout_percent});
 hist.push(s);if(hist.length>600)hist.shift();draw();}
const es=new EventSource("/dashboard/events");
es.addEventListener("snapshot",e=>show(JSON.parse(e.data)));
es.onerror=()=>{document.getElementById("state").textContent="feed lost, retrying";document.getElementById("state").className="bad";};
</script></body></html>
)HTML";
  return page;
}

}  // namespace cutover::net
