// The /dashboard page: one HTML document with its CSS and script inline (no CDN, no build
// step). It reads /dashboard/events (same origin, the admin cookie) and draws the figures
// and two canvas charts, connections and distinct users per transport over the last hour,
// from the server's own 10-second samples (a page opened now still shows the hour before).
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
.ok{color:#17803d}.bad{color:#c0262d}canvas{width:100%;height:160px}.wide{grid-column:1/-1}
ul{margin:4px 0 0;padding-left:18px}
</style></head><body>
<header><h1>Cutover</h1><span>ready: <span id="state">waiting for data</span></span><span id="updated"></span></header>
<main>
<section><h2>Connections</h2><table id="connections"></table></section>
<section><h2>Users last hour</h2><table id="users"></table><small>2+: seen on two or more transports</small></section>
<section><h2>Deliveries / s</h2><table id="rates"></table></section>
<section><h2>Live delivery latency (p50 / p99)</h2><table id="latency"></table><small>interpolated within histogram buckets, as histogram_quantile()</small></section>
<section><h2>Ingest and store</h2><table id="ingest"></table></section>
<section><h2>Dead letters</h2><table id="dead"></table><ul id="dead-reasons"></ul></section>
<section><h2>Rewinds (Redis lost entries)</h2><table id="rewinds"></table><ul id="rewind-reasons"></ul></section>
<section><h2>Upstream errors</h2><table id="upstream"></table></section>
<section class="wide"><h2>Connections, last hour</h2><canvas id="chart" width="900" height="160"></canvas></section>
<section class="wide"><h2>Distinct users, last hour</h2><canvas id="users-chart" width="900" height="160"></canvas></section>
</main>
<script>
"use strict";
const hist=[];const colors=["#2563eb","#dc2626","#16a34a","#9333ea","#ea580c","#0891b2"];
function fmt(v,unit){if(v===null||v===undefined)return "–";if(unit==="s"){if(v==="+Inf")return "> 10 s";return v<1?(v*1000).toFixed(1)+" ms":v.toFixed(2)+" s";}return typeof v==="number"?(Math.round(v*10)/10).toString():String(v);}
function rows(id,obj,unit){const t=document.getElementById(id);t.textContent="";for(const[k,v]of Object.entries(obj)){const r=t.insertRow();r.insertCell().textContent=k;const c=r.insertCell();c.className="n";c.dataset.key=k;c.textContent=fmt(v,unit);}}
function reasons(id,list,none){const u=document.getElementById(id);u.textContent="";if(!list.length){const li=document.createElement("li");li.textContent=none;li.className="ok";u.append(li);return;}for(const e of list){const li=document.createElement("li");li.className="reason";li.textContent=new Date(e.time_ms).toLocaleTimeString()+" "+e.what;u.append(li);}}
// One line per transport over the last hour: the server's samples, then the figure now at
// the right edge; x is wall time.
function draw(id,field,now,current){const c=document.getElementById(id),g=c.getContext("2d");g.clearRect(0,0,c.width,c.height);g.font="11px system-ui";
 c.dataset.points=hist.length;c.dataset.oldest=hist.length?hist[0].time_ms:"";
 const pts=hist.concat([{time_ms:now,[field]:current}]);const keys=Object.keys(current);let max=1;for(const h of pts)for(const k of keys)max=Math.max(max,h[field][k]||0);
 const w=c.width-70,x=t=>Math.max(0,w-(now-t)/3600000*w),y=v=>c.height-8-(v/max)*(c.height-24);
 keys.forEach((k,i)=>{g.strokeStyle=g.fillStyle=colors[i%colors.length];g.beginPath();pts.forEach((h,j)=>{const px=x(h.time_ms),py=y(h[field][k]||0);j?g.lineTo(px,py):g.moveTo(px,py);});g.stroke();
  for(const h of pts)g.fillRect(x(h.time_ms)-1.5,y(h[field][k]||0)-1.5,3,3);g.fillText(k,c.width-62,14+12*i);});
 g.fillStyle="#667";g.fillText("max "+max,4,12);g.fillText("−60 min",2,c.height-1);g.fillText("now",w-20,c.height-1);}
function show(s){
 document.getElementById("state").textContent=s.ready?"yes":"NO";document.getElementById("state").className=s.ready?"ok":"bad";
 document.getElementById("updated").textContent="updated "+new Date(s.time_ms).toLocaleTimeString();
 rows("connections",Object.assign({},s.connections,{"waiting polls":s.waiting_polls}));
 rows("users",s.users_last_hour);rows("rates",s.deliveries_per_s);
 const lat={};for(const[k,v]of Object.entries(s.delivery_latency_s))lat[k]=v.count?fmt(v.p50,"s")+" / "+fmt(v.p99,"s"):"no deliveries yet";rows("latency",lat);
 rows("ingest",{"ingest lag (ms)":s.ingest_lag_ms,"store commit p99":fmt(s.store_commit_p99_s,"s"),"redis":s.redis.state,"redis reconnects":s.redis.reconnects,"rollout %":s.ws_rollout_percent,"rollout allow-listed":s.ws_rollout_listed});
 rows("dead",{"dead letters":s.dead_letters});reasons("dead-reasons",s.dead_letters_recent,"none");
 document.querySelector('#dead td[data-key="dead letters"]').className="n "+(s.dead_letters?"bad":"ok");
 rows("rewinds",{"rewinds":s.rewinds,"entries orphaned":s.orphaned});reasons("rewind-reasons",s.rewinds_recent,"none");
 const up=Object.assign({},s.upstream_errors||{"--upstream":"not configured"});if(s.redis.last_error)up["redis, last error"]=s.redis.last_error;rows("upstream",up);
 // The first snapshot of a feed brings the server's hour (again after a reconnect).
 if(s.history){for(const h of s.history)if(!hist.length||h.time_ms>hist[hist.length-1].time_ms)hist.push(h);const cut=s.time_ms-3600000;while(hist.length&&hist[0].time_ms<cut)hist.shift();}
 draw("chart","connections",s.time_ms,s.connections);draw("users-chart","users",s.time_ms,s.users_last_hour);}
const es=new EventSource("/dashboard/events");
es.addEventListener("snapshot",e=>show(JSON.parse(e.data)));
es.onerror=()=>{document.getElementById("state").textContent="feed lost, retrying";document.getElementById("state").className="bad";};
</script></body></html>
)HTML";
  return page;
}

}  // namespace cutover::net
