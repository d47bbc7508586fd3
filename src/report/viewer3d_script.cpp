// The three-plane viewer's style and script. The script reads #volume3d-data (viewer3d.cpp) and
// keeps one state: the record (case), the class, the crosshair voxel (d, h, w), overlay on/off
// and alpha. Each plane is a canvas: the tile of the current plane cut from the input's mosaic,
// the same tile of the class's map mosaic over it at globalAlpha = alpha (the map mosaic holds
// the heat map at full strength, the input's pixels outside the map), and the crosshair.
// Every text from a record goes through textContent, never innerHTML.
//
// The address's fragment may set the start: #input=NAME&class=N&voxel=D,H,W.
// For tests the state is mirrored on <body data-v3-case data-v3-class data-v3-voxel
// data-v3-overlay data-v3-alpha>, each canvas says what it shows (data-index, data-src,
// data-map), and the pictures that loaded, failed or are still loading are counted in
// data-v3-loaded, -failed and -pending.
#include "report/page.hpp"

namespace camkit::report {

const char* const kViewer3dStyle = R"css(
.v3planes{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:14px;
align-items:start}
.v3planes.video{grid-template-columns:minmax(0,560px)}
.v3plane{margin:0;min-width:0}
.v3plane[hidden]{display:none}
.v3plane figcaption{font-size:12px;color:var(--muted);margin-bottom:4px}
.v3stage{position:relative;background:#000;border-radius:4px;overflow:hidden}
.v3stage canvas{display:block;width:100%;height:100%;cursor:crosshair}
.v3stage .missing{position:absolute;inset:0}
.v3stage .missing[hidden]{display:none}
.v3label{font-variant-numeric:tabular-nums;min-width:8em;text-align:right;font-weight:600}
.v3voxel{font-variant-numeric:tabular-nums;font-size:13px}
.v3info{margin-top:12px}
#v3-peak{font:inherit;padding:2px 9px;border:1px solid #d1d5db;border-radius:6px;
background:#fff;cursor:pointer}
)css";

const char* const kViewer3dScript = R"js(
(function(){
var data=JSON.parse(document.getElementById('volume3d-data').textContent),cases=data.cases;
var body=document.body,AX=['d','h','w'];
/* The plane across axis a shows rows ROW[a] and columns COL[a], as the mosaics hold them. */
var ROW=[1,0,0],COL=[2,2,1],COLOUR=['#f43f5e','#22c55e','#38bdf8'];
function $(id){return document.getElementById(id);}
var caseSel=$('v3-case'),classSel=$('v3-class'),toggle=$('v3-overlay'),alpha=$('v3-alpha');
var st={c:0,x:0,v:[0,0,0]},pics={},nLoaded=0,nFailed=0,nPending=0;
function rec(){return cases[st.c];}
function cls(){return rec().classes[st.x]||null;}
function num(v,d){return typeof v==='number'&&isFinite(v)?v.toFixed(d):'n/a';}
function el(tag,text,cl){var e=document.createElement(tag);
if(text!==undefined)e.textContent=text;if(cl)e.className=cl;return e;}
function counts(){body.setAttribute('data-v3-loaded',nLoaded);
body.setAttribute('data-v3-failed',nFailed);body.setAttribute('data-v3-pending',nPending);}
/* One Image per mosaic, kept: switching back to a class or case draws at once. */
function pic(url){if(!url)return null;var p=pics[url];if(p)return p;
p={img:new Image(),ok:null};pics[url]=p;nPending++;counts();
p.img.onload=function(){p.ok=true;nLoaded++;nPending--;counts();drawAll();};
p.img.onerror=function(){p.ok=false;nFailed++;nPending--;counts();drawAll();};
p.img.src=url;return p;}

function draw(a){var r=rec(),ax=r.axes[a],n=AX[a],panel=$('v3-plane-'+n);
if(!ax){panel.hidden=true;return;}panel.hidden=false;
var video=r.kind==='video',cv=$('v3-canvas-'+n),stage=$('v3-stage-'+n),
miss=$('v3-missing-'+n),note=$('v3-note-'+n),D=r.dims,sp=r.spacing,
rows=D[ROW[a]],cols=D[COL[a]],k=st.v[a];
/* Voxels at their physical size (NIfTI spacing); frames and arrays as they are. */
stage.style.aspectRatio=(cols*sp[COL[a]])+'/'+(rows*sp[ROW[a]]);
var dpr=window.devicePixelRatio||1,cw=Math.max(1,Math.round(stage.clientWidth*dpr)),
ch=Math.max(1,Math.round(stage.clientHeight*dpr));
if(cv.width!==cw)cv.width=cw;if(cv.height!==ch)cv.height=ch;
var g=cv.getContext('2d');g.imageSmoothingEnabled=false;g.globalAlpha=1;
g.fillStyle='#000';g.fillRect(0,0,cw,ch);
var sx=(k%ax.columns)*ax.tw,sy=Math.floor(k/ax.columns)*ax.th,base=pic(ax.src);
if(base&&base.ok)g.drawImage(base.img,sx,sy,ax.tw,ax.th,0,0,cw,ch);
miss.hidden=!!(base&&base.ok!==false);
if(!miss.hidden)miss.textContent=(ax.src?'slice pictures could not be read: ':
'slice pictures not found: ')+ax.file;
var c=cls(),murl=c?c.maps[a]:'',map=pic(murl),shown=false;note.textContent='';
if(toggle.checked&&map&&map.ok){g.globalAlpha=+alpha.value;
g.drawImage(map.img,sx,sy,ax.tw,ax.th,0,0,cw,ch);g.globalAlpha=1;shown=true;}
if(toggle.checked&&c&&(!map||map.ok===false))note.textContent=c.map_files[a]?
'heat map not found: '+c.map_files[a]:'no heat map of this plane';
if(!video){var x=Math.round((st.v[COL[a]]+0.5)/cols*cw)+0.5,
y=Math.round((st.v[ROW[a]]+0.5)/rows*ch)+0.5;g.lineWidth=Math.max(1,Math.round(dpr));
g.strokeStyle=COLOUR[COL[a]];g.beginPath();g.moveTo(x,0);g.lineTo(x,ch);g.stroke();
g.strokeStyle=COLOUR[ROW[a]];g.beginPath();g.moveTo(0,y);g.lineTo(cw,y);g.stroke();}
cv.setAttribute('data-index',k);cv.setAttribute('data-src',ax.src||'');
cv.setAttribute('data-map',shown?murl:'');
var s=$('v3-slider-'+n);s.max=ax.slices-1;s.value=k;
var label=$('v3-label-'+n);
if(video){label.textContent='frame '+(k+1)+' / '+ax.slices;
var f=r.frames[k];label.title=typeof f==='number'?'source frame '+f+
(r.fps>0?', '+(f/r.fps).toFixed(2)+' s':''):'';}
else{label.textContent=n+' '+k+' / '+(ax.slices-1);label.title='0-based voxel index';}}

function drawAll(){for(var a=0;a<3;a++)draw(a);var c=cls(),v=st.v;
var atPeak=c&&c.has_peak&&v[0]===c.peak[0]&&v[1]===c.peak[1]&&v[2]===c.peak[2];
$('v3-voxel').textContent=rec().kind==='video'?'':'voxel [d, h, w] = ['+v.join(', ')+']'+
(atPeak?' \u00b7 peak':'');
body.setAttribute('data-v3-case',rec().name);body.setAttribute('data-v3-class',c?c['class']:'');
body.setAttribute('data-v3-voxel',v.join(','));
body.setAttribute('data-v3-overlay',toggle.checked?'1':'0');
body.setAttribute('data-v3-alpha',alpha.value);
$('v3-alpha-label').textContent=(+alpha.value).toFixed(2);}

function meta(){var r=rec(),c=cls();$('v3-record-title').textContent=r.name;
var m=$('v3-record-meta');m.textContent='';var D=r.dims,video=r.kind==='video';
var lines=[r.name+'.json',r.input,(video?D[0]+' frames of '+D[2]+'\u00d7'+D[1]:
D.join('\u00d7')+' voxels (d\u00d7h\u00d7w)')+(r.kind?' \u00b7 '+r.kind:'')+
(r.kind==='nifti'?' \u00b7 voxel '+r.spacing.map(function(s){return +s.toFixed(3);})
.join('\u00d7')+' mm':''),r.model+(r.method?' \u00b7 '+r.method:'')];
if(r.decision!==null&&r.predictions.length)lines.push('decision: '+r.decision+' \u00b7 p = '+
num(r.predictions[0].score,3));
if(r.true_label)lines.push('true: '+r.true_label);
if(c)lines.push('peak voxel [d, h, w]: '+(c.has_peak?'['+c.peak.join(', ')+']':'not recorded'));
lines.forEach(function(t){if(t)m.appendChild(el('span',t,'meta'));});
var tb=$('v3-predictions').tBodies[0];tb.textContent='';
r.predictions.forEach(function(p){var tr=el('tr');
if(c&&p['class']===c['class'])tr.className='sel';
tr.appendChild(el('td',p.label));tr.appendChild(el('td',String(p['class']),'num'));
tr.appendChild(el('td',num(p.score,3),'num'));tr.appendChild(el('td',num(p.logit,3),'num'));
tb.appendChild(tr);});}

function titles(){var r=rec(),video=r.kind==='video';
$('viewer3d').querySelector('.v3planes').classList.toggle('video',video);
for(var a=0;a<3;a++)$('v3-title-'+AX[a]).textContent=video?'frames':'plane '+AX[a]+
' (rows '+AX[ROW[a]]+', columns '+AX[COL[a]]+')';}
/* Switching class keeps the crosshair, so classes compare on the same planes. */
function setClass(x){st.x=x;classSel.value=x;var c=cls();
if(c)c.maps.forEach(function(u){pic(u);});meta();drawAll();}
function setCase(i){st.c=i;caseSel.value=i;var r=rec();classSel.textContent='';
r.classes.forEach(function(c,j){var o=el('option',c.label+' #'+c['class']+' \u00b7 '+
num(c.score,3));o.value=j;classSel.appendChild(o);});classSel.disabled=r.classes.length<2;
r.axes.forEach(function(ax){if(ax)pic(ax.src);});
var c=r.classes[0];st.v=c?c.peak.slice():[r.dims[0]>>1,r.dims[1]>>1,r.dims[2]>>1];
titles();setClass(0);}
function clamp(v,n){return Math.max(0,Math.min(n-1,v|0));}

caseSel.addEventListener('change',function(){setCase(+caseSel.value);});
classSel.addEventListener('change',function(){setClass(+classSel.value);});
toggle.addEventListener('change',drawAll);
alpha.addEventListener('input',drawAll);
$('v3-peak').addEventListener('click',function(){var c=cls();if(c){st.v=c.peak.slice();
drawAll();}});
AX.forEach(function(n,a){
$('v3-slider-'+n).addEventListener('input',function(e){st.v[a]=clamp(+e.target.value,
rec().dims[a]);drawAll();});
$('v3-canvas-'+n).addEventListener('click',function(e){var r=rec();if(r.kind==='video')return;
var rc=e.target.getBoundingClientRect();if(!rc.width||!rc.height)return;
st.v[COL[a]]=clamp(Math.floor((e.clientX-rc.left)/rc.width*r.dims[COL[a]]),r.dims[COL[a]]);
st.v[ROW[a]]=clamp(Math.floor((e.clientY-rc.top)/rc.height*r.dims[ROW[a]]),r.dims[ROW[a]]);
drawAll();});});
/* Keys only when the volume viewer, which has its own P and O, is not on the page. */
if(!$('viewer'))document.addEventListener('keydown',function(e){
if(e.ctrlKey||e.altKey||e.metaKey||e.defaultPrevented)return;
var t=e.target,tag=t.tagName;if(tag==='SELECT'||tag==='TEXTAREA'||
(tag==='INPUT'&&t.type!=='checkbox'))return;
if(e.key==='p'||e.key==='P')$('v3-peak').click();
else if(e.key==='o'||e.key==='O'){toggle.checked=!toggle.checked;drawAll();}
else return;e.preventDefault();});
window.addEventListener('resize',drawAll);
/* The address may open a given place: #input=NAME&class=N&voxel=D,H,W (class by index). */
var want={};location.hash.slice(1).split('&').forEach(function(kv){var i=kv.indexOf('=');
if(i>0)want[kv.slice(0,i)]=decodeURIComponent(kv.slice(i+1));});
var c0=0;cases.forEach(function(r,i){if(r.name===want.input)c0=i;});
counts();if(cases.length){setCase(c0);
if('class' in want)rec().classes.forEach(function(c,i){if(String(c['class'])===want['class'])
setClass(i);});
var v=(want.voxel||'').split(',');if(v.length===3&&v.every(function(t){return /^\d+$/.test(t);})){
st.v=v.map(function(t,a){return clamp(+t,rec().dims[a]);});drawAll();}}
body.setAttribute('data-v3-ready','1');
})();
)js";

}  // namespace camkit::report
