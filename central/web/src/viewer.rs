//! The document viewer at `/opac/documents/{id}`: plain HTML and a small script (no CDN)
//! that loads the IIIF manifest and shows the pages with zoom and pan, previous/next,
//! thumbnails, the page's OCR text and a link to the PDF. Vietnamese first; `?lang=en`.

use rong_protocol::fold::fold;

use crate::html::esc;
use central_store::digitise::{Document, TextHit};

/// The viewer's script, inline in its page (central's content security policy allows it by
/// its SHA-256).
pub const SCRIPT: &str = r#"
(function(){
var root=document.getElementById('viewer'), doc=root.dataset.doc;
var img=document.getElementById('page'), stage=document.getElementById('stage');
var thumbs=document.getElementById('thumbs'), pos=document.getElementById('pos');
var textBox=document.getElementById('text'), textBtn=document.getElementById('showtext');
var prevBtn=document.getElementById('prev'), nextBtn=document.getElementById('next');
var pages=[], cur=0, scale=1, x=0, y=0, drag=null;
function apply(){img.style.transform='translate('+x+'px,'+y+'px) scale('+scale+')';}
function zoom(f){scale=Math.min(8,Math.max(0.25,scale*f));apply();}
function fit(){scale=1;x=0;y=0;apply();}
function show(i){
  if(i<0||i>=pages.length)return; cur=i; fit();
  var p=pages[i]; img.src=p.svc+'/full/'+p.view+'/0/default.jpg'; img.alt=p.label;
  pos.textContent=(i+1)+' / '+pages.length;
  prevBtn.disabled=i===0; nextBtn.disabled=i===pages.length-1;
  Array.prototype.forEach.call(thumbs.children,function(t,j){
    t.className=j===i?'on':''; if(j===i){t.setAttribute('aria-current','page');}else{t.removeAttribute('aria-current');}
  });
  if(!textBox.hidden)loadText();
}
function loadText(){fetch('/documents/'+doc+'/text/'+(cur+1)).then(function(r){return r.text();})
  .then(function(t){textBox.textContent=t;});}
fetch('/iiif/'+doc+'/manifest.json').then(function(r){return r.json();}).then(function(m){
  m.items.forEach(function(c,i){
    var body=c.items[0].items[0].body, svc=body.service[0].id;
    var view=c.width>1000?'1000,':'max';
    pages.push({svc:svc,view:view,label:c.label.none[0]});
    var t=document.createElement('img');
    t.src=c.thumbnail[0].id; t.alt=c.label.none[0]; t.loading='lazy'; t.tabIndex=0;
    t.onclick=function(){show(i);};
    t.onkeydown=function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();show(i);}};
    thumbs.appendChild(t);
  });
  show(0);
});
prevBtn.onclick=function(){show(cur-1);};
nextBtn.onclick=function(){show(cur+1);};
document.getElementById('zin').onclick=function(){zoom(1.25);};
document.getElementById('zout').onclick=function(){zoom(0.8);};
document.getElementById('fit').onclick=fit;
textBtn.onclick=function(){
  textBox.hidden=!textBox.hidden; textBtn.setAttribute('aria-pressed',String(!textBox.hidden));
  if(!textBox.hidden)loadText();
};
stage.addEventListener('wheel',function(e){e.preventDefault();zoom(e.deltaY<0?1.15:0.87);},{passive:false});
stage.addEventListener('pointerdown',function(e){drag={sx:e.clientX-x,sy:e.clientY-y};stage.setPointerCapture(e.pointerId);});
stage.addEventListener('pointermove',function(e){if(drag){x=e.clientX-drag.sx;y=e.clientY-drag.sy;apply();}});
stage.addEventListener('pointerup',function(){drag=null;});
document.addEventListener('keydown',function(e){
  if(e.ctrlKey||e.metaKey||e.altKey)return;
  var k=e.key;
  if(k==='ArrowLeft'||k==='PageUp')show(cur-1);
  else if(k==='ArrowRight'||k==='PageDown')show(cur+1);
  else if(k==='Home')show(0);
  else if(k==='End')show(pages.length-1);
  else if(k==='+'||k==='=')zoom(1.25);
  else if(k==='-')zoom(0.8);
  else if(k==='0')fit();
  else return;
  e.preventDefault();
});
})();
"#;

/// The viewer's stylesheet: the page fills the window between the toolbar and the
/// thumbnails; on a phone the title gets its own line and the text goes below the page.
const STYLE: &str = "*{box-sizing:border-box}\
html,body{height:100%}\
body{margin:0;display:flex;flex-direction:column;height:100vh;height:100dvh;background:#1c1c1c;color:#eee;\
font:16px/1.4 'Noto Sans','DejaVu Sans',system-ui,sans-serif}\
header{background:#7a2e0e;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center}\
header a{color:#fff}h1{font-size:1.15rem;margin:0;flex:1 1 14rem;min-width:0;overflow-wrap:anywhere}\
header .links{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center}\
header .links a,header .back{padding:.35rem 0}\
#tools{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;padding:.4rem .6rem;background:#2b2b2b;flex:none}\
#tools .group{display:flex;gap:.3rem;align-items:center}\
#tools button{min-height:44px;min-width:44px;padding:0 .8rem;font:inherit;color:#fff;background:#3d3d3d;\
border:1px solid #5a5a5a;border-radius:6px;cursor:pointer}\
#tools button:hover{background:#4d4d4d}#tools button:disabled{opacity:.4;cursor:default}\
#tools button[aria-pressed=true]{background:#7a2e0e;border-color:#b8573a}\
button:focus-visible,#thumbs img:focus-visible{outline:3px solid #f5c542;outline-offset:2px}\
#pos{min-width:4.5rem;text-align:center;font-variant-numeric:tabular-nums}\
#viewer{flex:1;min-height:0;display:flex;flex-direction:column}\
#main{flex:1;min-height:0;display:flex}\
#stage{flex:1;min-width:0;position:relative;overflow:hidden;touch-action:none;cursor:grab;background:#111}\
#page{position:absolute;inset:0;margin:auto;max-width:calc(100% - 1rem);max-height:calc(100% - 1rem);\
transform-origin:center;user-select:none;box-shadow:0 2px 12px rgba(0,0,0,.6)}\
#text{width:min(28rem,40%);margin:0;overflow:auto;white-space:pre-wrap;background:#fffdf8;color:#111;padding:1rem;\
font:1rem/1.55 'Noto Sans','DejaVu Sans',sans-serif}\
#thumbs{display:flex;gap:.5rem;overflow-x:auto;padding:.5rem .6rem;background:#2b2b2b;flex:none}\
#thumbs img{height:72px;cursor:pointer;border:3px solid transparent;border-radius:3px;background:#fff}\
#thumbs img.on{border-color:#f5c542}\
@media (max-width:720px){header{padding:.4rem .75rem}h1{order:3;flex-basis:100%;font-size:1.05rem}\
header .links{margin-left:auto}#tools{gap:.3rem .6rem;padding:.3rem .4rem}#tools button{padding:0 .6rem}\
#main{flex-direction:column}#text{width:auto;max-height:40%}#thumbs img{height:56px}}";

/// The viewer page of a document with `pages` pages.
pub fn page(doc: &Document, pages: usize, english: bool) -> String {
    let (lang, other, switch, prev, next, zin, zout, fit, text, pdf, back, count, tools) =
        if english {
            (
                "en",
                "vi",
                "Tiếng Việt",
                "Previous",
                "Next",
                "Zoom in",
                "Zoom out",
                "Fit",
                "Text",
                "PDF",
                "Catalogue",
                "pages",
                "Page tools",
            )
        } else {
            (
                "vi",
                "en",
                "English",
                "Trang trước",
                "Trang sau",
                "Phóng to",
                "Thu nhỏ",
                "Vừa khung",
                "Văn bản",
                "PDF",
                "Tra cứu",
                "trang",
                "Công cụ xem trang",
            )
        };
    let id = esc(&doc.id);
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>\
<header><a class=\"back\" href=\"/opac?lang={lang}\">← {back}</a><h1>{title}</h1>\
<span class=\"links\"><span>{pages} {count}</span>\
<a href=\"/documents/{id}.pdf\" id=\"pdf\" download>{pdf}</a>\
<a href=\"/opac/documents/{id}?lang={other}\" lang=\"{other}\" hreflang=\"{other}\">{switch}</a></span></header>\
<div id=\"tools\" role=\"toolbar\" aria-label=\"{tools}\">\
<span class=\"group\"><button id=\"prev\">◀ {prev}</button><span id=\"pos\" aria-live=\"polite\"></span>\
<button id=\"next\">{next} ▶</button></span>\
<span class=\"group\"><button id=\"zout\" aria-label=\"{zout}\" title=\"{zout} (−)\">−</button>\
<button id=\"zin\" aria-label=\"{zin}\" title=\"{zin} (+)\">+</button>\
<button id=\"fit\" title=\"{fit} (0)\">{fit}</button></span>\
<button id=\"showtext\" aria-pressed=\"false\">{text}</button></div>\
<main id=\"viewer\" data-doc=\"{id}\"><div id=\"main\"><div id=\"stage\"><img id=\"page\" alt=\"\" draggable=\"false\"></div>\
<pre id=\"text\" hidden></pre></div><nav id=\"thumbs\" aria-label=\"{count}\"></nav></main>\
<script>{SCRIPT}</script></body></html>",
        title = esc(&doc.title),
    )
}

/// Words of context either side of the first matching word in a snippet.
const SNIPPET_WORDS: usize = 10;

/// A short extract of `text` around the first word matching a word of `q` (folded), with
/// the matching words in `<mark>`. Escaped HTML.
pub fn snippet(text: &str, q: &str) -> String {
    let wanted: Vec<String> = fold(q)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let words: Vec<&str> = text.split_whitespace().collect();
    let matches = |w: &str| {
        let f = fold(w);
        !f.is_empty()
            && wanted
                .iter()
                .any(|q| f.split(' ').any(|p| p.starts_with(q.as_str())))
    };
    let first = words.iter().position(|w| matches(w)).unwrap_or(0);
    let from = first.saturating_sub(SNIPPET_WORDS);
    let to = (first + SNIPPET_WORDS + 1).min(words.len());
    let mut out = String::new();
    if from > 0 {
        out.push_str("… ");
    }
    for (i, w) in words[from..to].iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if matches(w) {
            out.push_str(&format!("<mark>{}</mark>", esc(w)));
        } else {
            out.push_str(&esc(w));
        }
    }
    if to < words.len() {
        out.push_str(" …");
    }
    out
}

/// The "digitised documents" section of the catalogue's search page; empty without hits.
pub fn hits_html(english: bool, q: &str, hits: &[TextHit]) -> String {
    if hits.is_empty() {
        return String::new();
    }
    let (heading, page_word, lang) = if english {
        ("Digitised documents", "page", "en")
    } else {
        ("Tài liệu số hoá", "trang", "vi")
    };
    let mut out = format!("<h2 class=\"documents\">{heading}</h2><ol class=\"hits documents\">");
    for h in hits {
        out.push_str(&format!(
            "<li><a class=\"title document\" href=\"/opac/documents/{id}?lang={lang}\">{title}</a>\
             <div class=\"meta\">{page_word} {pos}</div><p class=\"snippet\">{snip}</p></li>",
            id = esc(&h.document),
            title = esc(&h.title),
            pos = h.position,
            snip = snippet(&h.text, q),
        ));
    }
    out.push_str("</ol>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_marks_folded_matches_and_escapes() {
        let s = snippet("Lịch sử <b> Địa chí Kon Tum năm 1990", "dia chi");
        assert!(s.contains("<mark>Địa</mark> <mark>chí</mark>"), "{s}");
        assert!(s.contains("&lt;b&gt;"), "{s}");
    }

    #[test]
    fn hits_link_to_the_viewer() {
        let h = TextHit {
            document: "d1".into(),
            title: "Địa chí".into(),
            position: 3,
            text: "Kon Tum".into(),
        };
        let html = hits_html(false, "kon", &[h]);
        assert!(
            html.contains("href=\"/opac/documents/d1?lang=vi\""),
            "{html}"
        );
        assert!(html.contains("trang 3"));
        assert!(hits_html(true, "kon", &[]).is_empty());
    }
}
