// The /demo page: one HTML document with its CSS and script inline (no CDN, no client
// library). It asks /demo/token for a token, connects over the transport picked (the
// legacy poll loop, the WebSocket, EventSource, or Socket.IO: Engine.IO 4 over a WebSocket
// spoken by hand, about twenty lines), lists notifications with their ids as they arrive,
// and publishes to the user's own topic with POST /v1/publish.
#include "net/demo.hpp"

namespace cutover::net {

const std::string& demo_page() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cutover demo</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px}header h1{font-size:18px;margin:0}
main{max-width:900px;margin:0 auto;padding:14px}
section{background:#fff;border-radius:6px;padding:12px 16px;margin-bottom:12px;box-shadow:0 1px 2px #0002}
label{margin-right:12px}input,select,button{font:inherit;padding:4px 8px}
button{cursor:pointer}#status{font-weight:600}.ok{color:#17803d}.bad{color:#c0262d}
ul{list-style:none;padding:0;margin:0}li{padding:5px 0;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
li code{background:#eef;padding:1px 4px;border-radius:3px}li.mine{background:#ecfdf3}
small{color:#667}
</style></head><body>
<header><h1>Cutover demo</h1></header>
<main>
<section>
<label>User <input id="user" value="demo" maxlength="64" size="14"></label>
<label>Transport <select id="transport">
<option value="poll">legacy long-poll</option><option value="websocket" selected>WebSocket (/v1/ws)</option>
<option value="sse">Server-Sent Events (/v1/events)</option><option value="socketio">Socket.IO (/socket.io/)</option>
</select></label>
<button id="connect">Connect</button> <button id="publish" disabled>Publish a notification</button>
<p>Status: <span id="status">not connected</span></p>
<p id="published"><small>The button publishes to your own topic through POST /v1/publish.</small></p>
</section>
<section><h2 style="font-size:14px;margin:0 0 6px">Notifications (newest first)</h2><ul id="log"></ul></section>
<small>Tokens come from this server (/demo/token, 15 minutes, --demo only); nothing here is loaded from elsewhere.</small>
</main>
<script>
"use strict";
const $=id=>document.getElementById(id);
let conn=null,tok=null,via="",count=0,sentAt=0;
function status(t,cls){$("status").textContent=t;$("status").className=cls||"";}
function legacyOf(id){const[ms,seq]=id.split("-").map(BigInt);return(ms*1024n+(seq<1023n?seq:1023n)).toString();}
function show(id,topic,type,data){
 const li=document.createElement("li");li.dataset.id=String(id);
 const c=document.createElement("code");c.textContent=String(id);li.append(c,(topic?" "+topic:"")+" "+(type||"")+" "+JSON.stringify(data));
 $("log").prepend(li);if($("published").dataset.expect===String(id))mine(li);while($("log").children.length>100)$("log").lastChild.remove();}
function mine(li){const p=$("published");li.className="mine";p.dataset.arrived=li.dataset.id;p.textContent="published "+p.dataset.id+(via==="poll"?" (legacyId "+li.dataset.id+")":"")+": arrived over "+via+" within "+(Date.now()-sentAt)+" ms";}
function frame(f){if(f.type==="hello")ready();else if(f.type==="notification")show(f.id,f.topic,f.event,f.data);else if(f.type==="reset")status("reset: older notifications were removed","bad");}
function ready(){status("connected as "+tok.user+" over "+via,"ok");$("publish").disabled=false;}
function lost(why){$("publish").disabled=true;status(why||"disconnected","bad");conn=null;}
function disconnect(){if(conn)conn.close();conn=null;$("publish").disabled=true;}
let gen=0;  // connect() calls so far: a call a later one overtook while it waited stops
async function connect(){
 const my=++gen;disconnect();via=$("transport").value;status("connecting…");
 const r=await fetch("/demo/token?user="+encodeURIComponent($("user").value.trim()),{cache:"no-store"});
 const j=await r.json();if(my!==gen)return;disconnect();if(!r.ok){status("no token: "+(j.message||r.status),"bad");return;}
 tok=j;const q="access_token="+encodeURIComponent(tok.token);
 const base=(location.protocol==="https:"?"wss://":"ws://")+location.host;
 if(via==="websocket"){const ws=new WebSocket(base+"/v1/ws?"+q);ws.onmessage=e=>frame(JSON.parse(e.data));ws.onclose=e=>lost("closed ("+e.code+")");conn={close(){ws.onclose=null;ws.close();}};}
 else if(via==="sse"){const es=new EventSource("/v1/events?"+q);es.onmessage=e=>frame(JSON.parse(e.data));es.onerror=()=>status("reconnecting…","bad");conn={close(){es.close();}};}
 else if(via==="socketio"){
  // Engine.IO 4 over a WebSocket: 0 open, 2/3 ping/pong; Socket.IO: 40 connect, 42 event.
  const ws=new WebSocket(base+"/socket.io/?EIO=4&transport=websocket&"+q);
  ws.onmessage=e=>{const m=String(e.data);
   if(m[0]==="0")ws.send("40");else if(m==="2")ws.send("3");
   else if(m.startsWith("44"))lost("refused: "+m.slice(2));
   else if(m.startsWith("42")){const[ev,f]=JSON.parse(m.slice(2));if(ev==="hello"||ev==="notification"||ev==="reset")frame(f);}
   else if(m[0]==="1")lost("closed by the server");};
  ws.onclose=e=>lost("closed ("+e.code+")");conn={close(){ws.onclose=null;ws.close();}};}
 else{
  // The legacy poll: answers at once with what is after the cursor, else waits.
  let stop=false,ctl=null,since=tok.cursor;
  conn={close(){stop=true;if(ctl)ctl.abort();}};ready();
  while(!stop){ctl=new AbortController();
   try{const a=await fetch(tok.poll_path+"?since="+encodeURIComponent(since),{headers:{Authorization:"Bearer "+tok.token},signal:ctl.signal,cache:"no-store"});
    if(stop)return;if(a.status!==200){status("the poll answered "+a.status,"bad");await new Promise(f=>setTimeout(f,2000));continue;}
    const b=await a.json();if(stop)return;for(const n of b.notifications||[])show(n.id,"",n.type,n.payload);
    if(b.lastId!==undefined&&b.lastId!==null)since=String(b.lastId);}
   catch(e){if(stop)return;status("poll failed, retrying","bad");await new Promise(f=>setTimeout(f,2000));}}}}
async function publish(){
 const p=$("published");count++;
 // The previous publish's arrival is not this one's (nor is it while this one is on its way).
 delete p.dataset.id;delete p.dataset.expect;delete p.dataset.arrived;p.textContent="publishing…";
 const body={topic:"user:"+tok.user,type:"demo.clicked",data:{n:count,from:"the demo page"}};
 sentAt=Date.now();
 const r=await fetch("/v1/publish",{method:"POST",headers:{"Content-Type":"application/json",Authorization:"Bearer "+tok.token},body:JSON.stringify(body)});
 const j=await r.json();
 if(r.status!==202){p.textContent="publish refused: "+r.status+" "+(j.message||"");return;}
 p.dataset.id=j.id;p.dataset.expect=via==="poll"?legacyOf(j.id):j.id;delete p.dataset.arrived;
 p.textContent="published "+j.id+(via==="poll"?" (legacyId "+p.dataset.expect+")":"")+", waiting for it…";
 const early=$("log").querySelector('li[data-id="'+p.dataset.expect+'"]');if(early)mine(early);}
$("connect").onclick=()=>connect().catch(e=>status("failed: "+e.message,"bad"));
$("publish").onclick=()=>publish().catch(e=>status("publish failed: "+e.message,"bad"));
</script></body></html>
)HTML";
  return page;
}

}  // namespace cutover::net
